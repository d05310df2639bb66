#!/usr/bin/env python3
"""Vendor the External Secrets Operator's ExternalSecret CRD for the tests.

ecs-bridge writes `external-secrets.io/v1` ExternalSecrets, a kind the External Secrets Operator
(ESO, Apache-2.0) defines. `kubernetes-validate` has no schema for it, so the tests validate the
rendered ExternalSecrets against the CRD's published schema, and the e2e suite installs the CRD on
the test bed. No registry we reach carries ESO's Helm chart or its CRD bundle (the npm package
`@kubernetes-models/external-secrets` has only generated TypeScript models, and the crate
`kcr_external_secrets_io` has only generated Rust). The crate `kopium` (Apache-2.0) carries
ESO's ExternalSecret CRD as a test fixture at
`tests/cmd/generate/crds/externalsecrets.external-secrets.io.yaml`: the `v1` version only
(served and storage; controller-gen v0.19.0), with every scalar double-quoted, as the
kube-custom-resources-rs CRD catalog stores it. This script downloads that crate from crates.io
and checks its sha256 against the pinned one, which is the checksum in the crates.io index. It
then writes the CRD, unchanged but for a header naming its source, to
`testdata/external-secrets/externalsecrets.external-secrets.io.yaml`.

cargo has no command that downloads a single crate, so this script fetches the `.crate` file
(a gzipped tarball) from the registry's download URL, the same URL cargo uses.

Usage: python3 hack/vendor_es_crd.py
"""

import hashlib
import io
import os
import sys
import tarfile
import urllib.request

import yaml

PACKAGE = "kopium"
VERSION = "0.24.1"
# The `cksum` of kopium 0.24.1 in the crates.io index (index.crates.io/ko/pi/kopium).
SHA256 = "15cc3a0ffd281ea6e36696c9a2d3a6a7a9e6ea1cf0d35b5dab54c021dade6fc9"
URL = f"https://static.crates.io/crates/{PACKAGE}/{PACKAGE}-{VERSION}.crate"
CRD = "externalsecrets.external-secrets.io"
MEMBER = f"tests/cmd/generate/crds/{CRD}.yaml"
OUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "..",
    "testdata",
    "external-secrets",
    f"{CRD}.yaml",
)


def main() -> int:
    with urllib.request.urlopen(URL, timeout=120) as resp:
        data = resp.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        sys.exit(f"{PACKAGE} {VERSION}: sha256 {digest}, expected {SHA256}")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as t:
        text = t.extractfile(f"{PACKAGE}-{VERSION}/{MEMBER}").read().decode()
    # Check that the file is the CRD we want and that it serves external-secrets.io/v1.
    crd = yaml.safe_load(text)
    if crd.get("kind") != "CustomResourceDefinition" or crd["metadata"]["name"] != CRD:
        sys.exit(f"{MEMBER} in {PACKAGE} {VERSION} is not the {CRD} CRD")
    served = [v["name"] for v in crd["spec"]["versions"] if v.get("served")]
    if "v1" not in served:
        sys.exit(f"{CRD} in {PACKAGE} {VERSION} does not serve v1 (serves {served})")
    header = (
        f"# The External Secrets Operator's {CRD} CRD (Apache-2.0), version v1 only.\n"
        f"# Source: crates.io crate {PACKAGE}=={VERSION} (Apache-2.0), file\n"
        f"# {MEMBER}, a test fixture with\n"
        f"# scalars quoted as the kube-custom-resources-rs CRD catalog stores them.\n"
        f"# Written by hack/vendor_es_crd.py; do not edit.\n"
    )
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write(header + text.strip("-\n") + "\n")
    print(f"wrote {os.path.relpath(OUT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
