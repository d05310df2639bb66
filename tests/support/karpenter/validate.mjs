// Validates Karpenter NodePools (a JSON array on stdin) against Karpenter's published NodePool
// schema: the validator npm's @kubernetes-models/karpenter (pinned in package-lock.json, installed
// by hack/test-deps.sh) compiles from Karpenter's own API types (sigs.k8s.io/karpenter/pkg/apis/v1):
// types, required fields, enumerations, patterns and bounds. That schema leaves unknown fields
// alone, as an API server would prune them silently; a field the validator never reads is one the
// schema does not know, and is reported too.
//
// Prints one line per object, and exits 1 when any is invalid.
import fs from "node:fs";
import { validate } from "./node_modules/@kubernetes-models/karpenter/_schemas/IoK8sSigsKarpenterPkgApisV1NodePool.js";

const objects = JSON.parse(fs.readFileSync(0, "utf8"));
let failed = false;
for (const obj of objects) {
  const read = new Set();
  const enumerated = new Set();
  // Every object and array, wrapped so that what the validator reads is recorded by path.
  const watch = (v, path) => {
    if (v === null || typeof v !== "object") return v;
    const inner = Array.isArray(v)
      ? v.map((x, i) => watch(x, `${path}/${i}`))
      : Object.fromEntries(Object.entries(v).map(([k, x]) => [k, watch(x, `${path}/${k}`)]));
    return new Proxy(inner, {
      get(t, k, r) { if (typeof k === "string") read.add(`${path}/${k}`); return Reflect.get(t, k, r); },
      has(t, k) { if (typeof k === "string") read.add(`${path}/${k}`); return Reflect.has(t, k); },
      // A map (labels, annotations): the validator enumerates it, every key is known.
      ownKeys(t) { enumerated.add(path); return Reflect.ownKeys(t); },
    });
  };
  const ok = validate(watch(obj, ""));
  const unknown = [];
  const walk = (v, path) => {
    if (v === null || typeof v !== "object") return;
    for (const [k, x] of Object.entries(v)) {
      const p = `${path}/${k}`;
      if (!Array.isArray(v) && !read.has(p) && !enumerated.has(path)) unknown.push(p);
      walk(x, p);
    }
  };
  walk(obj, "");
  const name = `${obj?.kind ?? "?"} ${obj?.metadata?.name ?? "?"}`;
  const errors = (validate.errors ?? []).map((e) => `${e.instancePath || "/"}: ${e.keyword} ${JSON.stringify(e.params)}`);
  for (const u of unknown) errors.push(`${u}: not a field of Karpenter's NodePool`);
  if (obj?.apiVersion !== "karpenter.sh/v1" || obj?.kind !== "NodePool") errors.push("/: not a karpenter.sh/v1 NodePool");
  if (!ok || errors.length > 0) {
    failed = true;
    console.log(`${name}: INVALID\n  ${errors.join("\n  ")}`);
  } else {
    console.log(`${name}: valid`);
  }
}
process.exit(failed ? 1 : 0);
