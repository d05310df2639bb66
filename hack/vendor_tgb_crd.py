#!/usr/bin/env python3
"""Vendor the AWS Load Balancer Controller's TargetGroupBinding CRD for the tests.

ecs-bridge makes `elbv2.k8s.aws/v1beta1` TargetGroupBindings, a kind the AWS Load Balancer
Controller defines. `kubernetes-validate` has no schema for it, so the tests validate the rendered
bindings against the CRD's published schema, and the e2e suite installs the CRD on the test bed.
No registry carries the controller's Helm chart; the PyPI package `cdk8s-aws-lb-controller`
(Apache-2.0) ships the controller's CRDs verbatim (controller v2.2, controller-gen v0.5.0) in its
jsii bundle, at `package/crds.yaml`. This script downloads that package with pip and writes the
TargetGroupBinding CRD, unchanged but for a header naming its source, to
`testdata/aws-load-balancer-controller/targetgroupbindings.elbv2.k8s.aws.yaml`.

Usage: python3 hack/vendor_tgb_crd.py
"""

import glob
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile

import yaml

PACKAGE = "cdk8s-aws-lb-controller"
VERSION = "0.2.6"
CRD = "targetgroupbindings.elbv2.k8s.aws"
OUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "..",
    "testdata",
    "aws-load-balancer-controller",
    f"{CRD}.yaml",
)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             f"{PACKAGE}=={VERSION}", "-d", tmp],
            check=True,
        )
        (wheel,) = glob.glob(os.path.join(tmp, "*.whl"))
        with zipfile.ZipFile(wheel) as z:
            (bundle,) = [n for n in z.namelist() if n.endswith(".jsii.tgz")]
            with tarfile.open(fileobj=io.BytesIO(z.read(bundle))) as t:
                text = t.extractfile("package/crds.yaml").read().decode()
    # The file is a YAML stream of CRDs; keep the TargetGroupBinding one as written.
    for doc in text.split("\n---\n"):
        parsed = yaml.safe_load(doc)
        if parsed and parsed.get("metadata", {}).get("name") == CRD:
            break
    else:
        sys.exit(f"{CRD} not found in {PACKAGE} {VERSION}")
    header = (
        f"# The AWS Load Balancer Controller's {CRD} CRD, as published (controller v2.2).\n"
        f"# Source: PyPI package {PACKAGE}=={VERSION} (Apache-2.0), file package/crds.yaml of\n"
        f"# its jsii bundle. Written by hack/vendor_tgb_crd.py; do not edit.\n"
    )
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write(header + doc.strip("-\n") + "\n")
    print(f"wrote {os.path.relpath(OUT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
