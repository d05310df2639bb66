// Validates other projects' objects that ecs-bridge writes (a JSON array on stdin) against the
// project's published schema, by kind (the first argument):
//
// - NodePool: Karpenter's, the validator npm's @kubernetes-models/karpenter compiles from
//   Karpenter's own API types (sigs.k8s.io/karpenter/pkg/apis/v1);
// - ScaledObject: KEDA's, which npm's @kubernetes-models/keda compiles from KEDA's API types
//   (github.com/kedacore/keda/v2/apis/keda/v1alpha1).
//
// Both pinned in package-lock.json, installed by hack/test-deps.sh (npm ci): types, required
// fields, enumerations, patterns and bounds. Those schemas leave unknown fields alone, as an API
// server would prune them silently; a field the validator never reads is one the schema does not
// know, and is reported too.
//
// Prints one line per object, and exits 1 when any is invalid.
import fs from "node:fs";

const KINDS = {
  NodePool: ["karpenter.sh/v1", "./node_modules/@kubernetes-models/karpenter/_schemas/IoK8sSigsKarpenterPkgApisV1NodePool.js"],
  ScaledObject: ["keda.sh/v1alpha1", "./node_modules/@kubernetes-models/keda/_schemas/ComGithubKedacoreKedaV2ApisKedaV1alpha1ScaledObject.js"],
};
const wanted = process.argv[2];
if (!(wanted in KINDS)) {
  console.log(`usage: validate.mjs ${Object.keys(KINDS).join("|")} < objects.json`);
  process.exit(2);
}
const [apiVersion, schema] = KINDS[wanted];
const { validate } = await import(new URL(schema, import.meta.url));

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
  for (const u of unknown) errors.push(`${u}: not a field of ${wanted}`);
  if (obj?.apiVersion !== apiVersion || obj?.kind !== wanted) errors.push(`/: not a ${apiVersion} ${wanted}`);
  if (!ok || errors.length > 0) {
    failed = true;
    console.log(`${name}: INVALID\n  ${errors.join("\n  ")}`);
  } else {
    console.log(`${name}: valid`);
  }
}
process.exit(failed ? 1 : 0);
