#!/usr/bin/env python3
"""Writes fuzz/ecs.dict: a libFuzzer dictionary of the ECS model's field names and enum values (the
`rename` attributes of the generated types in src/api/ecs/), the five kinds and their apiVersion,
and JSON/YAML punctuation, for the `import` and `render` fuzz targets.

Run from the repository root after `make generate-ecs`: python3 hack/fuzz_dict.py
"""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
names = set()
for path in sorted((ROOT / "src/api/ecs").glob("*.rs")):
    names.update(re.findall(r'rename = "([^"\\]+)"', path.read_text()))
extra = [
    "apiVersion", "kind", "metadata", "name", "namespace", "spec", "ecsbridge.io/v1alpha1",
    "TaskDefinition", "Service", "CapacityProvider", "Task", "ScheduledTask",
    "taskDefinition", "containerDefinitions", "cron(", "rate(", "at(", "memberOf",
    "---\n", ": ", "- ", "{", "}", "[", "]", '":', '","', "null", "true", "false",
]
lines = ["# libFuzzer dictionary for the import and render targets (written by hack/fuzz_dict.py)."]
for word in sorted(names) + extra:
    escaped = word.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\x0A")
    lines.append(f'"{escaped}"')
(ROOT / "fuzz/ecs.dict").write_text("\n".join(dict.fromkeys(lines)) + "\n")
print(f"fuzz/ecs.dict: {len(dict.fromkeys(lines)) - 1} entries")
