"""Validate custom resources against their CRD's published schema, strictly.

`kubernetes-validate` knows only the built-in kinds: it skips a custom resource with a warning.
This validates each object of FILES whose group and kind the CRD defines against the
`openAPIV3Schema` of the CRD version its apiVersion names, as the API server does with
`kubectl apply --validate=strict`: unknown fields are errors (every object schema with
`properties` and no `additionalProperties` or `x-kubernetes-preserve-unknown-fields` is closed),
`metadata` must satisfy the upstream ObjectMeta schema that kubernetes-validate ships (strict),
and `metadata.name` must be a DNS subdomain.

Usage: python3 validate_crd.py CRD.yaml FILE...   (exit 1 on an invalid object, 2 on none found)
"""

import copy
import re
import sys

import jsonschema
import yaml
from kubernetes_validate import utils
from referencing import Registry, Resource

SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def closed(schema):
    """`schema` with every object schema that lists properties closed to others."""
    schema = copy.deepcopy(schema)

    def walk(s):
        if not isinstance(s, dict):
            return
        if (
            "properties" in s
            and "additionalProperties" not in s
            and not s.get("x-kubernetes-preserve-unknown-fields")
        ):
            s["additionalProperties"] = False
        for key in ("properties", "patternProperties"):
            for sub in s.get(key, {}).values():
                walk(sub)
        for key in ("items", "additionalProperties", "not"):
            walk(s.get(key))
        for key in ("allOf", "anyOf", "oneOf"):
            for sub in s.get(key, []):
                walk(sub)

    walk(schema)
    return schema


def object_meta_validator():
    version = utils.latest_version()
    base = f"kubernetes-json-schema/v{version}-local-strict"
    schema = utils.schema_contents(f"{base}/objectmeta-meta-v1.json", version)
    definitions = utils.schema_contents(f"{base}/_definitions.json", version)
    registry = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.Draft202012Validator(schema, registry=registry)


def main(crd_path, files):
    crd = yaml.safe_load(open(crd_path))
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    schemas = {
        f"{group}/{v['name']}": closed(v["schema"]["openAPIV3Schema"]) for v in crd["spec"]["versions"]
    }
    meta = object_meta_validator()
    errors, checked = [], 0
    for path in files:
        for obj in yaml.safe_load_all(open(path)):
            if not obj or obj.get("kind") != kind or not str(obj.get("apiVersion", "")).startswith(group + "/"):
                continue
            checked += 1
            name = obj.get("metadata", {}).get("name", "?")
            schema = schemas.get(obj["apiVersion"])
            if schema is None:
                errors.append(f"{path}: {kind} {name}: {obj['apiVersion']} is not a version of the CRD")
                continue
            body = dict(obj, metadata={})
            for e in jsonschema.Draft7Validator(schema).iter_errors(body):
                errors.append(f"{path}: {kind} {name}: {'.'.join(map(str, e.path))}: {e.message}")
            for e in meta.iter_errors(obj.get("metadata", {})):
                errors.append(f"{path}: {kind} {name}: metadata.{'.'.join(map(str, e.path))}: {e.message}")
            if len(name) > 253 or not SUBDOMAIN.match(name):
                errors.append(f"{path}: {kind} {name}: metadata.name: not a DNS subdomain")
    for e in errors:
        print(e)
    if checked == 0:
        print(f"no {kind} found in {files}")
        return 2
    print(f"{checked} {kind} objects checked, {len(errors)} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
