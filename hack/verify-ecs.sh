#!/usr/bin/env bash
# make verify-ecs (run by .ci/run): src/api/ecs/ must be exactly what `make generate-ecs` leaves
# there with the botocore pinned in requirements-dev.txt. Generates into a temporary directory,
# formats it as `cargo fmt` does (rustfmt with Cargo.toml's edition and rustfmt.toml) and compares
# file by file; src/api/ecs/ itself is only read.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
RUSTFMT=${RUSTFMT:-rustfmt}
dir=src/api/ecs
fix="make generate-ecs"

pinned=$(sed -n 's/^botocore==\([^[:space:]#]*\).*/\1/p' requirements-dev.txt)
installed=$("$PYTHON" -c 'import botocore; print(botocore.__version__)' 2>/dev/null || true)
if [ "$installed" != "$pinned" ]; then
    echo "verify-ecs: $PYTHON has botocore ${installed:-(not installed)}, requirements-dev.txt pins" \
        "$pinned; run make test-deps (make verify-ecs does)" >&2
    exit 1
fi
edition=$(sed -n 's/^edition *= *"\([0-9]*\)".*/\1/p' Cargo.toml | head -n 1)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PYTHON" hack/gen_ecs_types.py --out "$tmp" >/dev/null
# Run from the checkout, so that rust-toolchain.toml chooses rustfmt as it does for cargo fmt.
"$RUSTFMT" --edition "$edition" --config-path rustfmt.toml "$tmp"/*.rs

stale=0
for generated in "$tmp"/*; do
    file="$dir/${generated##*/}"
    if [ ! -e "$file" ]; then
        echo "verify-ecs: $file is missing: hack/gen_ecs_types.py writes it." >&2
        stale=1
    elif ! cmp -s "$file" "$generated"; then
        echo "verify-ecs: $file differs from what hack/gen_ecs_types.py writes (botocore $pinned," \
            "then cargo fmt):" >&2
        diff -u --label "$file (in the tree)" --label "$file (generated)" "$file" "$generated" >&2 || true
        stale=1
    fi
done
while IFS= read -r file; do
    if [ ! -e "$tmp/${file#"$dir"/}" ]; then
        echo "verify-ecs: $file is not written by hack/gen_ecs_types.py: delete it" \
            "(make generate-ecs replaces $dir/ as a whole)." >&2
        stale=1
    fi
done < <(find "$dir" -mindepth 1 \( -type f -o -type l \) | sort)

if [ "$stale" -ne 0 ]; then
    echo "verify-ecs: $dir/ is generated code and does not match its generator; to fix it, run:" >&2
    echo "    $fix" >&2
    exit 1
fi
echo "verify-ecs: $dir/ is what hack/gen_ecs_types.py writes with botocore $pinned ($(find "$tmp" -type f | wc -l) files)"
