#!/usr/bin/env bash
# make test-deps (run by `make test` and .ci/run): what the tests need besides Rust, installed
# where this script can and named, with the command to run, where it cannot. Quick when
# everything is there.
#
#   - Debian's Lua 5.1 (`lua5.1`, `luac5.1`): tests/argocd_health.rs runs the Argo CD health
#     checks with it. Installed with `apt-get install -y lua5.1` as root or with passwordless sudo.
#   - kubectl: the chart tests and the e2e suite run it. Checked, not installed.
#   - Node.js and npm: the tests validate Karpenter NodePools and KEDA ScaledObjects with the
#     projects' published schemas, the npm packages pinned in tests/support/models/package-lock.json
#     (`npm ci` there).
#     Installed with `apt-get install -y nodejs npm` as root or with passwordless sudo when absent.
#   - Python 3 with pip: checked; then `pip install -r requirements-dev.txt`.
#   - the shared ECS corpus in ../shared/corpus/ecs/: checked.
#
# The tests take LUA, LUAC, KUBECTL and PYTHON to use other commands; so does this script (it
# installs nothing for a LUA or LUAC of your own). The Helm library needs nothing here:
# hack/helm.py downloads the pinned helm-sdkpy wheel when a test first uses it.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
LUA_CMD=${LUA:-lua5.1}
LUAC_CMD=${LUAC:-luac5.1}
KUBECTL_CMD=${KUBECTL:-kubectl}
missing=()

have() { command -v "$1" >/dev/null 2>&1; }

# Sets as_root to what runs a command as root: nothing as root, `sudo -n` with passwordless
# sudo; fails when there is neither.
can_be_root() {
    if [ "$(id -u)" -eq 0 ]; then
        as_root=()
    elif have sudo && sudo -n true 2>/dev/null; then
        as_root=(sudo -n)
    else
        return 1
    fi
}

lua_ok() {
    have "$LUA_CMD" && have "$LUAC_CMD" || return 1
    case "$("$LUA_CMD" -v 2>&1)" in *"Lua 5.1"*) return 0 ;; *) return 1 ;; esac
}

if ! lua_ok; then
    if [ -n "${LUA:-}${LUAC:-}" ]; then
        missing+=("Lua 5.1 (tests/argocd_health.rs runs \`$LUA_CMD\` and \`$LUAC_CMD\`, from LUA and LUAC): one of them is not found, or \`$LUA_CMD -v\` is not Lua 5.1")
    elif ! have apt-get; then
        missing+=("Lua 5.1 (lua5.1 and luac5.1, for tests/argocd_health.rs): no apt-get here; install Lua 5.1 with your package manager and set LUA and LUAC to its lua and luac")
    elif ! can_be_root; then
        missing+=("Lua 5.1 (lua5.1 and luac5.1, for tests/argocd_health.rs): not installed, and this script is not root and has no passwordless sudo. Run:
      sudo apt-get install -y lua5.1")
    else
        install="${as_root[*]}${as_root[*]:+ }apt-get install -y lua5.1"
        echo "test-deps: installing Debian's Lua 5.1 ($install)"
        apt=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get)
        "${apt[@]}" install -y -qq lua5.1 >/dev/null ||
            { echo "test-deps: apt-get install failed; running apt-get update and trying again"; "${apt[@]}" update -qq &&
                "${apt[@]}" install -y -qq lua5.1 >/dev/null; } ||
            true
        lua_ok || missing+=("Lua 5.1: \`$install\` did not install lua5.1 and luac5.1 (see its output above)")
    fi
fi

if ! { have node && have npm; }; then
    if have apt-get && can_be_root; then
        echo "test-deps: installing Node.js and npm (apt-get install -y nodejs npm)"
        apt=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get)
        "${apt[@]}" install -y -qq nodejs npm >/dev/null ||
            { "${apt[@]}" update -qq && "${apt[@]}" install -y -qq nodejs npm >/dev/null; } ||
            true
    fi
    { have node && have npm; } || missing+=("Node.js and npm (tests validate Karpenter NodePools with its schema from npm): not found. Install them (Debian: sudo apt-get install -y nodejs npm)")
fi

if ! have "$KUBECTL_CMD"; then
    arch=$(uname -m | sed 's/x86_64/amd64/; s/aarch64/arm64/')
    missing+=("kubectl (the chart tests and the e2e suite run it): \`$KUBECTL_CMD\` not found. Install it (https://kubernetes.io/docs/tasks/tools/), e.g.:
      curl -fsSLO \"https://dl.k8s.io/release/\$(curl -fsSL https://dl.k8s.io/release/stable.txt)/bin/linux/$arch/kubectl\" && sudo install kubectl /usr/local/bin/
    or set KUBECTL to the kubectl to use")
fi

if ! have "$PYTHON"; then
    missing+=("Python 3 (the tests run hack/*.py and the Python test tools): \`$PYTHON\` not found. Install Python 3 with pip (Debian: sudo apt-get install -y python3 python3-pip python3-venv, then use a virtual environment: python3 -m venv .venv && . .venv/bin/activate), or set PYTHON")
elif ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
    missing+=("pip (it installs requirements-dev.txt): \`$PYTHON -m pip\` does not run. Install it (Debian: sudo apt-get install -y python3-pip python3-venv, then use a virtual environment: python3 -m venv .venv && . .venv/bin/activate), or set PYTHON to a Python 3 that has pip")
fi

# Not a package: the real ECS JSON the corpus tests read, next to this checkout (snapshots.rs,
# placement_corpus.rs and cql.rs read it there even when ECS_CORPUS_DIR is set).
corpus=$(cd .. && pwd)/shared/corpus/ecs
for f in SOURCES.md member-of-expressions.txt; do
    if [ ! -f "$corpus/$f" ]; then
        missing+=("the shared ECS corpus (real task definitions and services the tests read): $corpus/$f not found; the tests expect the corpus at ../shared/corpus/ecs/ next to this checkout")
        break
    fi
done

if [ ${#missing[@]} -gt 0 ]; then
    echo "test-deps: the tests need what is missing here:" >&2
    for m in "${missing[@]}"; do
        echo "  - $m" >&2
    done
    exit 1
fi

# Karpenter's NodePool and KEDA's ScaledObject schemas, as the lock file pins them (installed
# again when the lock changes: node_modules/.installed-lock is the lock they were installed from).
models=tests/support/models
if ! cmp -s "$models/package-lock.json" "$models/node_modules/.installed-lock"; then
    echo "test-deps: npm ci in $models (Karpenter's and KEDA's schemas)"
    npm ci --prefix "$models" --no-audit --no-fund --silent ||
        { echo "test-deps: npm ci in $models failed (see above)" >&2; exit 1; }
    cp "$models/package-lock.json" "$models/node_modules/.installed-lock"
fi

[ "$(id -u)" -ne 0 ] || export PIP_ROOT_USER_ACTION=ignore
if ! "$PYTHON" -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt; then
    # Debian's own python3 refuses pip installs outside a virtual environment (PEP 668).
    if "$PYTHON" -c 'import os, sys, sysconfig
sys.exit(sys.prefix == sys.base_prefix and
         os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")))' 2>/dev/null; then
        :
    else
        echo "test-deps: $PYTHON is the system's Python, which takes no pip installs; use a virtual" \
            "environment (Debian: sudo apt-get install -y python3-venv), then make test again:" >&2
        echo "    python3 -m venv .venv && . .venv/bin/activate && make test" >&2
    fi
    echo "test-deps: pip install -r requirements-dev.txt failed (see above)" >&2
    exit 1
fi
