#!/usr/bin/env python3
"""The real Helm library (Helm v4 as a shared object, from PyPI's helm-sdkpy wheel), driven
through ctypes, for the chart tests and CI: no `helm` binary is needed.

helm-sdkpy's own Python bindings need Python >= 3.12 and cffi; its `libhelm_sdkpy.so` is a Go
c-shared library with plain C functions, so this script loads it with ctypes from any Python 3
(3.11 here). The wheel is downloaded once, pinned by version and sha256, into
`$HELM_SDKPY_DIR` (default `target/helm-sdkpy` in this checkout) and checked before use.

Usage:
  python3 hack/helm.py version
  python3 hack/helm.py lint CHART [--set key=value ...]
  python3 hack/helm.py install CHART --kubeconfig FILE --namespace NS [--name RELEASE]
                                     [--set key=value ...] [--create-namespace] [--wait]
  python3 hack/helm.py upgrade CHART --kubeconfig FILE --namespace NS [--name RELEASE]
                                     [--set key=value ...] [--wait]
  python3 hack/helm.py uninstall --kubeconfig FILE --namespace NS [--name RELEASE]
  python3 hack/helm.py template CHART ...   (not available: see below)

`lint` prints Helm's messages (severity and path) and exits 1 when any has severity ERROR (or
the lint call fails). The library's lint entry point takes no values, so `lint --set` lints a
copy of the chart whose values.yaml has the overrides merged in (needs PyYAML, in
requirements-dev.txt).

`install`, `upgrade` and `uninstall` print the release as JSON (name, namespace, version,
status, description, notes, manifest) and exit 1 on failure. They do not wait for the objects
to become ready (`--wait` does) and apply client-side, as `helm install` does by default
(`--server-side` for server-side apply). Install applies `crds/` first, then the templates;
upgrade leaves `crds/` alone, as Helm always does.

The library has no template (render-only) entry point and install has no dry-run option in this
version, so `template` exits 2 and says so; the chart tests render by installing into the
in-process API server double and reading the release's manifest.

`--set` takes `a.b.c=value` (value parsed as JSON when it parses: true, 2, "x", [..], {..};
otherwise a string), a subset of `helm --set`.
"""

import ctypes
import fcntl
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

# Pinned: the wheel carries Helm v4.3.0 (helm.sh/helm/v4@v4.3.0).
HELM_SDKPY_VERSION = "0.1.32"
WHEEL = f"helm_sdkpy-{HELM_SDKPY_VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "bcf5bf73cacc373bebedfb9c988969aa12a9eda86a140deba658fbf28eb789c5"

REPO = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    return Path(os.environ.get("HELM_SDKPY_DIR") or REPO / "target" / "helm-sdkpy")


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch_wheel(directory: Path) -> Path:
    """The pinned wheel in `directory`, downloaded with pip (any Python: --python-version)."""
    wheel = directory / WHEEL
    if wheel.exists() and sha256(wheel) == WHEEL_SHA256:
        return wheel
    directory.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
           "--no-deps", "--only-binary=:all:", "--python-version", "3.13",
           "--dest", str(directory), f"helm-sdkpy=={HELM_SDKPY_VERSION}"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0 or not wheel.exists():
        sys.exit(f"helm.py: could not download {WHEEL} with pip:\n{done.stderr}\n"
                 f"(set HELM_SDKPY_DIR to a directory that holds the wheel)")
    got = sha256(wheel)
    if got != WHEEL_SHA256:
        wheel.unlink()
        sys.exit(f"helm.py: {WHEEL} has sha256 {got}, expected {WHEEL_SHA256}")
    return wheel


def library_path() -> Path:
    machine = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    if platform.system() != "Linux":
        sys.exit(f"helm.py: only Linux is supported, not {platform.system()}")
    directory = cache_dir()
    unpacked = directory / f"helm_sdkpy-{HELM_SDKPY_VERSION}"
    member = f"helm_sdkpy/_lib/linux-{machine}/libhelm_sdkpy.so"
    so = unpacked / member
    if so.exists():
        return so
    directory.mkdir(parents=True, exist_ok=True)
    # Tests run in parallel: one process downloads and unpacks, the others wait for it.
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not so.exists():
            wheel = fetch_wheel(directory)
            with zipfile.ZipFile(wheel) as z:
                if member not in z.namelist():
                    sys.exit(f"helm.py: {WHEEL} has no {member}")
                partial = Path(tempfile.mkdtemp(dir=directory))
                z.extract(member, partial)
                (partial / member).parent.mkdir(parents=True, exist_ok=True)
                so.parent.mkdir(parents=True, exist_ok=True)
                os.replace(partial / member, so)
                shutil.rmtree(partial)
    return so


class Helm:
    """The C functions of libhelm_sdkpy.so (declared in the wheel's libhelm_sdkpy.h)."""

    def __init__(self):
        lib = ctypes.CDLL(str(library_path()))
        handle = ctypes.c_ulonglong
        cstr = ctypes.c_char_p
        out = ctypes.POINTER(ctypes.c_void_p)
        # Strings the library returns are malloc'd (free with helm_sdkpy_free), except the
        # thread's last error, which it owns.
        for name, args, res in [
            ("helm_sdkpy_last_error", [], ctypes.c_char_p),
            ("helm_sdkpy_free", [ctypes.c_void_p], None),
            ("helm_sdkpy_version_string", [], ctypes.c_void_p),
            ("helm_sdkpy_config_create", [cstr, cstr, cstr, cstr, ctypes.POINTER(handle)], ctypes.c_int),
            ("helm_sdkpy_config_destroy", [handle], None),
            ("helm_sdkpy_lint", [handle, cstr, out], ctypes.c_int),
            ("helm_sdkpy_install", [handle, cstr, cstr, cstr, cstr, cstr, out], ctypes.c_int),
            ("helm_sdkpy_upgrade", [handle, cstr, cstr, cstr, cstr, cstr, out], ctypes.c_int),
            ("helm_sdkpy_uninstall", [handle, cstr, ctypes.c_int, ctypes.c_int, out], ctypes.c_int),
        ]:
            f = getattr(lib, name)
            f.argtypes = args
            f.restype = res
        self.lib = lib

    def take(self, ptr) -> str:
        if not ptr:
            return ""
        try:
            return ctypes.string_at(ptr).decode("utf-8")
        finally:
            self.lib.helm_sdkpy_free(ptr)

    def check(self, rc: int, what: str):
        if rc != 0:
            err = self.lib.helm_sdkpy_last_error()
            raise HelmError(f"{what}: {err.decode('utf-8') if err else 'unknown error'} (code {rc})")

    def version(self) -> str:
        return self.take(self.lib.helm_sdkpy_version_string())

    def config(self, namespace: str, kubeconfig: str | None = None) -> int:
        h = ctypes.c_ulonglong()
        rc = self.lib.helm_sdkpy_config_create(
            namespace.encode(), kubeconfig.encode() if kubeconfig else None, None, b"{}", ctypes.byref(h))
        self.check(rc, "config")
        return h.value

    def lint(self, chart: str) -> dict:
        h = self.config("default")
        try:
            result = ctypes.c_void_p()
            rc = self.lib.helm_sdkpy_lint(h, chart.encode(), ctypes.byref(result))
            self.check(rc, "lint")
            return json.loads(self.take(result.value))
        finally:
            self.lib.helm_sdkpy_config_destroy(h)

    def release_action(self, action: str, chart: str, name: str, namespace: str, kubeconfig: str,
                       values: dict, options: dict) -> dict:
        """`install` or `upgrade` (same arguments: release, chart, values JSON, version, options)."""
        h = self.config(namespace, kubeconfig)
        try:
            result = ctypes.c_void_p()
            rc = getattr(self.lib, f"helm_sdkpy_{action}")(
                h, name.encode(), chart.encode(), json.dumps(values).encode() if values else b"",
                b"", json.dumps(options).encode(), ctypes.byref(result))
            self.check(rc, action)
            return json.loads(self.take(result.value))
        finally:
            self.lib.helm_sdkpy_config_destroy(h)

    def uninstall(self, name: str, namespace: str, kubeconfig: str, timeout: int) -> dict:
        h = self.config(namespace, kubeconfig)
        try:
            result = ctypes.c_void_p()
            rc = self.lib.helm_sdkpy_uninstall(h, name.encode(), 0, timeout, ctypes.byref(result))
            self.check(rc, "uninstall")
            text = self.take(result.value)
            return json.loads(text) if text else {}
        finally:
            self.lib.helm_sdkpy_config_destroy(h)


class HelmError(Exception):
    pass


def parse_sets(sets: list[str]) -> dict:
    values: dict = {}
    for s in sets:
        key, sep, raw = s.partition("=")
        if not sep or not key:
            sys.exit(f"helm.py: --set {s!r}: expected key=value")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = values
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return values


def merge(base, override):
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for k, v in override.items():
            out[k] = merge(base.get(k), v)
        return out
    return override


def cmd_lint(helm: Helm, chart: str, sets: list[str]) -> int:
    values = parse_sets(sets)
    with tempfile.TemporaryDirectory(prefix="helm-lint-") as tmp:
        path = chart
        if values:
            try:
                import yaml  # PyYAML (requirements-dev.txt)
            except ImportError:
                sys.exit("helm.py: lint --set needs PyYAML: pip install -r requirements-dev.txt")
            path = os.path.join(tmp, os.path.basename(os.path.abspath(chart)))
            shutil.copytree(chart, path)
            values_file = Path(path) / "values.yaml"
            base = yaml.safe_load(values_file.read_text()) or {}
            values_file.write_text(json.dumps(merge(base, values), indent=2))
        try:
            result = helm.lint(path)
        except HelmError as e:
            print(f"[ERROR] {e}")
            return 1
    # Helm's lint result, as the library marshals it: {"TotalChartsLinted", "Messages":
    # [{"Severity", "Path", "Err"}], "Errors"}. Severities are Helm's support.Severity (0 unknown,
    # 1 INFO, 2 WARNING, 3 ERROR). The messages' error texts do not survive the library's JSON
    # encoding (Go error values marshal as {}): only severity and path are reported.
    messages = result.get("Messages") or []
    report = [{"severity": SEVERITY.get(m.get("Severity"), str(m.get("Severity"))), "path": m.get("Path")}
              for m in messages]
    errors = [m for m in messages if (m.get("Severity") or 0) >= 3]
    print(json.dumps({"charts": result.get("TotalChartsLinted"), "messages": report,
                      "errors": len(errors) + len(result.get("Errors") or [])}, indent=2))
    return 1 if errors or result.get("Errors") else 0


SEVERITY = {0: "UNKNOWN", 1: "INFO", 2: "WARNING", 3: "ERROR"}


def cmd_release(helm: Helm, action: str, args: list[str]) -> int:
    """install, upgrade or uninstall, with helm's flag names."""
    chart, name, namespace, kubeconfig, sets = None, "ecs-bridge", None, None, []
    options = {"create_namespace": False, "wait": False, "timeout_seconds": 120,
               "server_side_apply": "false", "disable_openapi_validation": False}
    if action == "upgrade":
        # `helm upgrade` without --install/--reuse-values: the chart's values plus these.
        options.update({"install": False, "reset_values": True, "max_history": 10})
    it = iter(args)
    for a in it:
        if a == "--kubeconfig":
            kubeconfig = next(it)
        elif a in ("--namespace", "-n"):
            namespace = next(it)
        elif a == "--name":
            name = next(it)
        elif a == "--set":
            sets.append(next(it))
        elif a == "--create-namespace":
            options["create_namespace"] = True
        elif a == "--wait":
            options["wait"] = True
        elif a == "--server-side":
            options["server_side_apply"] = "true"
        elif chart is None and not a.startswith("-") and action != "uninstall":
            chart = a
        else:
            sys.exit(f"helm.py {action}: unexpected argument {a!r}")
    if not ((chart or action == "uninstall") and kubeconfig and namespace):
        sys.exit(f"usage: helm.py {action} {'' if action == 'uninstall' else 'CHART '}--kubeconfig FILE "
                 "--namespace NS [--name RELEASE] [--set k=v ...]")
    try:
        if action == "uninstall":
            response = helm.uninstall(name, namespace, kubeconfig, options["timeout_seconds"])
            release = response.get("release") or response
        else:
            release = helm.release_action(action, chart, name, namespace, kubeconfig,
                                          parse_sets(sets), options)
    except HelmError as e:
        print(f"helm.py: {e}", file=sys.stderr)
        return 1
    info = release.get("info") or {}
    print(json.dumps({"name": release.get("name"), "namespace": release.get("namespace"),
                      "version": release.get("version"), "status": info.get("status"),
                      "description": info.get("description"), "notes": info.get("notes"),
                      "manifest": release.get("manifest")}, indent=2))
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "template":
        print("helm.py: the Helm library (helm-sdkpy) has no render-only entry point; install into "
              "a test API server and read the release's manifest instead", file=sys.stderr)
        return 2
    helm = Helm()
    if command == "version":
        print(json.dumps({"helm_sdkpy": HELM_SDKPY_VERSION, "library": helm.version()}))
        return 0
    if command == "lint":
        charts = [a for a in rest if not a.startswith("--")]
        sets = [rest[i + 1] for i, a in enumerate(rest) if a == "--set"]
        charts = [c for c in charts if c not in sets]
        if len(charts) != 1:
            sys.exit("usage: helm.py lint CHART [--set k=v ...]")
        return cmd_lint(helm, charts[0], sets)
    if command in ("install", "upgrade", "uninstall"):
        return cmd_release(helm, command, rest)
    sys.exit(f"helm.py: unknown command {command!r} (lint, install, upgrade, uninstall, version)")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
