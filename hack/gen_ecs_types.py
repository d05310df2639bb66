#!/usr/bin/env python3
"""Generate the ECS request types in src/api/ecs/ from botocore's ECS model.

The CRD `spec`s are ECS's own request shapes, field for field. Writing ~110 structures and ~450
members by hand invites typos in names and casing, so this script writes them from the model that
AWS's own SDKs use. Run it with `make generate-ecs` after bumping the pinned botocore version; the
output is committed and reviewed like any other code. `tests/botocore_coverage.rs` checks the
result against the model independently.

Usage: python3 hack/gen_ecs_types.py [--out DIR] [path/to/ecs/service-2.json(.gz)]

The files go to src/api/ecs/ unless `--out DIR` names another directory (`make verify-ecs`
generates into a temporary one and compares). They are not formatted: `make generate-ecs` runs
`cargo fmt` after this script.
"""

import argparse
import gzip
import html
import json
import os
import re
import sys

ROOTS = [
    "RegisterTaskDefinitionRequest",
    "CreateServiceRequest",
    "CreateCapacityProviderRequest",
    "RunTaskRequest",
]

# Module of the generated file for the shapes reachable from each "owner" shape. A shape reached
# from more than one owner goes to `shared.rs`.
OWNERS = [
    ("container", "ContainerDefinition"),
    ("volume", "Volume"),
    ("task_definition", "RegisterTaskDefinitionRequest"),
    ("service", "CreateServiceRequest"),
    ("capacity_provider", "CreateCapacityProviderRequest"),
    ("run_task", "RunTaskRequest"),
]

MODULE_DOCS = {
    "container": "Container definitions of a task definition (`ContainerDefinition` and its parts).",
    "volume": "Task definition volumes (`Volume` and its storage configurations).",
    "task_definition": "The `RegisterTaskDefinition` request and its task-level parts.",
    "service": "The `CreateService` request and its parts (deployments, load balancers, Service Connect).",
    "capacity_provider": "The `CreateCapacityProvider` request and its parts.",
    "run_task": "The `RunTask` request and its overrides.",
    "shared": "ECS shapes used by more than one request (placement, networking, tags, ...).",
}

# Members the model marks required that Kubernetes supplies: the object's `metadata.name` is used
# when they are absent (design.md: "Names that Kubernetes already gives come from metadata.name").
OPTIONAL_OVERRIDES = {
    ("RegisterTaskDefinitionRequest", "family"),
    ("CreateServiceRequest", "serviceName"),
    ("CreateCapacityProviderRequest", "name"),
}

# String members that people also write as numbers (`cpu: 1024` in YAML is an integer); the schema
# accepts both (x-kubernetes-int-or-string) and the value keeps the form it was given.
INT_OR_STRING = {
    ("RegisterTaskDefinitionRequest", "cpu"),
    ("RegisterTaskDefinitionRequest", "memory"),
    ("TaskOverride", "cpu"),
    ("TaskOverride", "memory"),
    ("ResourceRequirement", "value"),
}

RUST_KEYWORDS = {"type", "match", "ref", "mod", "use", "loop", "move", "self", "static", "enum", "struct",
                 "trait", "where", "in", "fn", "let", "const", "crate", "priority"}

SPEC_NAMES = {
    "RegisterTaskDefinitionRequest": "RegisterTaskDefinition",
    "CreateServiceRequest": "CreateService",
    "CreateCapacityProviderRequest": "CreateCapacityProvider",
    "RunTaskRequest": "RunTask",
}


# EventBridge (legacy rules API, PascalCase as AWS writes it): the ScheduledTask spec is a rule plus
# its targets. Only target members that make sense for an ECS target are kept.
EVENTS_ROOTS = ["PutRuleRequest", "Target"]
EVENTS_MEMBER_FILTER = {
    "Target": ["Id", "Arn", "RoleArn", "Input", "InputPath", "InputTransformer", "EcsParameters",
               "DeadLetterConfig", "RetryPolicy"],
}
# EventBridge Scheduler's CreateSchedule (the form AWS now recommends): its target and flexible
# time window, beside the PutRule fields both forms share.
SCHEDULER_ROOTS = ["Target", "FlexibleTimeWindow", "ActionAfterCompletion"]
SCHEDULER_MEMBER_FILTER = {
    "Target": ["Arn", "RoleArn", "Input", "EcsParameters", "DeadLetterConfig", "RetryPolicy"],
}
SCHEDULER_OPTIONAL_OVERRIDES = {
    ("Target", "Arn"),  # the ECS cluster is the namespace
    ("Target", "RoleArn"),  # the operator's own permissions create the Tasks
}
EVENTS_OPTIONAL_OVERRIDES = {
    ("PutRuleRequest", "Name"),  # from metadata.name
    ("Target", "Id"),  # targets are identified by position
    ("Target", "Arn"),  # the ECS cluster is the namespace
}


def load_model(path):
    raw = open(path, "rb").read()
    if path.endswith(".gz"):
        raw = gzip.decompress(raw)
    return json.loads(raw)["shapes"]


def find_model(path=None):
    if path:
        return path
    import botocore  # noqa: PLC0415

    base = os.path.join(os.path.dirname(botocore.__file__), "data", "ecs", "2014-11-13")
    for name in ("service-2.json.gz", "service-2.json"):
        p = os.path.join(base, name)
        if os.path.exists(p):
            return p
    sys.exit("botocore ECS model not found; pip install botocore")


def children(shapes, name):
    sh = shapes[name]
    t = sh["type"]
    if t == "structure":
        return [m["shape"] for m in sh["members"].values()]
    if t == "list":
        return [sh["member"]["shape"]]
    if t == "map":
        return [sh["key"]["shape"], sh["value"]["shape"]]
    return []


def closure(shapes, root):
    seen, stack = [], [root]
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.append(n)
        stack.extend(children(shapes, n))
    return set(seen)


def first_sentence(doc, fallback):
    text = re.sub(r"<[^>]+>", " ", doc or "")
    text = html.unescape(text)
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        return fallback
    m = re.search(r"(?<=[a-z0-9)`'\"])\.(\s|$)", text)
    if m:
        text = text[: m.start() + 1]
    # The whole first sentence: `kubectl explain` shows it, and a sentence cut mid-way says
    # less than none (tests/crd_schema.rs keeps the CRDs within their size budget).
    if not text.endswith((".", "...")):
        text += "."
    return text


def snake(name):
    name = name.replace("GiB", "Gib").replace("MiB", "Mib")
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    s = s.lower()
    return f"r#{s}" if s in RUST_KEYWORDS else s


def variant(value):
    tokens = [t for t in re.split(r"[^A-Za-z0-9]+", value) if t]
    out = ""
    for t in tokens:
        piece = t[:1].upper() + t[1:].lower()
        if out and out[-1].isdigit() and piece[0].isdigit():
            out += "_"
        out += piece
    if out[0].isdigit():
        out = "V" + out
    return out


def doc_comment(text, indent=""):
    text = text.replace("*/", "* /")
    return f"{indent}/// {text}\n"


class Gen:
    def __init__(self, shapes, optional=OPTIONAL_OVERRIDES, prefix="", member_filter=None):
        self.shapes = shapes
        self.optional = optional
        self.prefix = prefix
        self.member_filter = member_filter or {}
        self.module_of = {}
        if prefix:
            return
        closures = {mod: closure(shapes, root) for mod, root in OWNERS}
        # task_definition owns what its request reaches beyond containers and volumes
        closures["task_definition"] -= closures["container"] | closures["volume"]
        closures["task_definition"] |= {"ContainerDefinition", "Volume"} - closures["task_definition"]
        closures["task_definition"] -= {"ContainerDefinition", "Volume"}
        all_shapes = set()
        for r in ROOTS:
            all_shapes |= closure(shapes, r)
        for n in sorted(all_shapes):
            owners = [m for m, _ in OWNERS if n in closures[m]]
            if not owners:
                continue
            self.module_of[n] = owners[0] if len(owners) == 1 else "shared"

    def rust_name(self, name):
        if self.prefix:
            return self.prefix + name.removesuffix("Request")
        return SPEC_NAMES.get(name, name)

    def members(self, name):
        sh = self.shapes[name]
        keep = self.member_filter.get(name)
        return [(k, v) for k, v in sh["members"].items() if keep is None or k in keep]

    def field_type(self, owner, member, shape_name):
        sh = self.shapes[shape_name]
        t = sh["type"]
        if (owner, member) in INT_OR_STRING:
            return "NumberOrString"
        if t == "string":
            return self.rust_name(shape_name) if "enum" in sh else "String"
        if t == "integer":
            return "i32"
        if t == "long":
            return "i64"
        if t in ("double", "float"):
            return "f64"
        if t == "boolean":
            return "bool"
        if t == "timestamp":
            return "String"
        if t == "list":
            return f"Vec<{self.field_type(None, None, sh['member']['shape'])}>"
        if t == "map":
            return f"BTreeMap<String, {self.field_type(None, None, sh['value']['shape'])}>"
        if t == "structure" and sh.get("document"):
            return "FreeForm"
        if t == "structure":
            return self.rust_name(shape_name)
        raise ValueError(t)

    def has_default(self, name, seen=None):
        sh = self.shapes[name]
        if sh["type"] != "structure":
            return True
        for mname in sh.get("required", []):
            if (name, mname) in self.optional:
                continue
            mt = self.shapes[sh["members"][mname]["shape"]]
            if mt["type"] == "string" and "enum" in mt:
                return False
            if mt["type"] == "structure" and not self.has_default(sh["members"][mname]["shape"]):
                return False
        return True

    def emit_struct(self, name):
        sh = self.shapes[name]
        rname = self.rust_name(name)
        required = set(sh.get("required", []))
        out = doc_comment(first_sentence(sh.get("documentation"), f"The ECS `{name}` structure."))
        derives = ["Serialize", "Deserialize", "Clone", "Debug", "PartialEq", "JsonSchema"]
        if self.has_default(name):
            derives.insert(3, "Default")
        out += f"#[derive({', '.join(derives)})]\n"
        out += f"pub struct {rname} {{\n"
        for mname, m in self.members(name):
            ty = self.field_type(name, mname, m["shape"])
            doc = first_sentence(m.get("documentation"), f"The ECS `{mname}` field.")
            out += doc_comment(doc, "    ")
            fname = snake(mname)
            is_required = mname in required and (name, mname) not in self.optional
            if is_required:
                out += f'    #[serde(rename = "{mname}")]\n'
                out += f"    pub {fname}: {ty},\n"
            else:
                out += f'    #[serde(rename = "{mname}", default, skip_serializing_if = "Option::is_none")]\n'
                out += f"    pub {fname}: Option<{ty}>,\n"
        out += "}\n"
        return out

    def emit_enum(self, name):
        sh = self.shapes[name]
        # No `///` here: schemars would put the enum's description in place of the field's.
        out = f"// The ECS `{name}` enumeration.\n#[allow(missing_docs)]\n"
        out += "#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]\n"
        out += f"pub enum {self.rust_name(name)} {{\n"
        for v in sh["enum"]:
            out += doc_comment(f"`{v}`", "    ")
            out += f'    #[serde(rename = "{v}")]\n'
            out += f"    {variant(v)},\n"
        out += "}\n"
        return out

    def modules(self):
        mods = {}
        for n, mod in self.module_of.items():
            sh = self.shapes[n]
            if sh["type"] == "structure" and not sh.get("document"):
                mods.setdefault(mod, []).append(("s", n))
            elif sh["type"] == "string" and "enum" in sh:
                mods.setdefault(mod, []).append(("e", n))
        return mods


HEADER = """//! {doc}
//!
//! GENERATED by `hack/gen_ecs_types.py` from botocore's ECS model ({version}); do not edit by hand.
//! Field names and casing are ECS's own; doc comments are the model's first sentence.

#![allow(clippy::doc_markdown, clippy::struct_excessive_bools, clippy::large_enum_variant)]

#[allow(unused_imports)]
use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{{Deserialize, Serialize}};

#[allow(unused_imports)]
use super::*;
#[allow(unused_imports)]
use crate::api::{{FreeForm, NumberOrString}};
"""


def events_closure(shapes, roots=None, member_filter=None):
    roots = EVENTS_ROOTS if roots is None else roots
    member_filter = EVENTS_MEMBER_FILTER if member_filter is None else member_filter
    seen, stack = set(), list(roots)
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        sh = shapes[n]
        if sh["type"] == "structure":
            keep = member_filter.get(n)
            stack.extend(m["shape"] for k, m in sh["members"].items() if keep is None or k in keep)
        else:
            stack.extend(children(shapes, n))
    return seen


def gen_events(ecs_path, outdir, version):
    path = ecs_path.replace(os.path.join("ecs", "2014-11-13"), os.path.join("events", "2015-10-07"))
    shapes = load_model(path)
    gen = Gen(shapes, EVENTS_OPTIONAL_OVERRIDES, prefix="Eb", member_filter=EVENTS_MEMBER_FILTER)
    names = sorted(events_closure(shapes))
    body = HEADER.format(doc="EventBridge rule and target shapes (PascalCase, as the EventBridge API writes them).",
                         version=version.replace("ECS", "EventBridge"))
    body = body.replace("botocore's ECS model", "botocore's EventBridge model")
    items = [n for n in names if shapes[n]["type"] == "structure"] + \
        [n for n in names if shapes[n]["type"] == "string" and "enum" in shapes[n]]
    for n in items:
        body += "\n" + (gen.emit_struct(n) if shapes[n]["type"] == "structure" else gen.emit_enum(n))
    with open(os.path.join(outdir, "eventbridge.rs"), "w") as f:
        f.write(body)
    return len(items)


def gen_scheduler(ecs_path, outdir, version):
    path = ecs_path.replace(os.path.join("ecs", "2014-11-13"), os.path.join("scheduler", "2021-06-30"))
    shapes = load_model(path)
    gen = Gen(shapes, SCHEDULER_OPTIONAL_OVERRIDES, prefix="Sch", member_filter=SCHEDULER_MEMBER_FILTER)
    names = sorted(events_closure(shapes, SCHEDULER_ROOTS, SCHEDULER_MEMBER_FILTER))
    body = HEADER.format(doc="EventBridge Scheduler's schedule target shapes (CreateSchedule, PascalCase).",
                         version=version)
    body = body.replace("botocore's ECS model", "botocore's EventBridge Scheduler model")
    items = [n for n in names if shapes[n]["type"] == "structure"] + \
        [n for n in names if shapes[n]["type"] == "string" and "enum" in shapes[n]]
    for n in items:
        body += "\n" + (gen.emit_struct(n) if shapes[n]["type"] == "structure" else gen.emit_enum(n))
    with open(os.path.join(outdir, "scheduler.rs"), "w") as f:
        f.write(body)
    return len(items)


def main():
    parser = argparse.ArgumentParser(description="Generate src/api/ecs/ from botocore's ECS model.")
    parser.add_argument("model", nargs="?", help="ECS service-2.json(.gz) (default: the installed botocore's)")
    parser.add_argument("--out", metavar="DIR", help="output directory (default: src/api/ecs/ of this checkout)")
    args = parser.parse_args()
    path = find_model(args.model)
    shapes = load_model(path)
    version = "unknown"
    try:
        import botocore  # noqa: PLC0415

        version = f"botocore {botocore.__version__}"
    except ImportError:
        pass
    gen = Gen(shapes)
    outdir = args.out or os.path.join(os.path.dirname(__file__), "..", "src", "api", "ecs")
    os.makedirs(outdir, exist_ok=True)
    mods = gen.modules()
    order = [m for m, _ in OWNERS] + ["shared", "eventbridge", "scheduler"]
    MODULE_DOCS["eventbridge"] = "EventBridge rule shapes for ScheduledTask."
    n_events = gen_events(path, outdir, version) + gen_scheduler(path, outdir, version)
    for mod in order[:-2]:
        items = sorted(mods.get(mod, []), key=lambda x: (x[0] != "s", gen.rust_name(x[1])))
        body = HEADER.format(doc=MODULE_DOCS[mod], version=version)
        for kind, n in items:
            body += "\n" + (gen.emit_struct(n) if kind == "s" else gen.emit_enum(n))
        with open(os.path.join(outdir, f"{mod}.rs"), "w") as f:
            f.write(body)
    with open(os.path.join(outdir, "mod.rs"), "w") as f:
        f.write("//! ECS request shapes, generated from botocore's ECS model (see `hack/gen_ecs_types.py`).\n\n")
        for mod in order:
            f.write(f"mod {mod};\n")
        f.write("\n")
        for mod in order:
            f.write(f"pub use {mod}::*;\n")
    print(f"wrote {sum(len(v) for v in mods.values()) + n_events} types into {len(order)} modules from {version}")


if __name__ == "__main__":
    main()
