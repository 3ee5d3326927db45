"""MicroPython libraries from PyPI, for the unix-port tests and the flash tool: fetched once, cached, never
committed.

The MicroPython MQTT clients on PyPI are old-style sdists without setup.py: pip downloads them and then
refuses them ("does not appear to be a Python project"). Their .py files are fine, so we take the sdist's
address and digest from PyPI's JSON API, check the pinned SHA-256, and extract only the package's .py
files into `<cache>/<name>-<version>/`, a directory to put on MICROPYPATH (or to copy to the board).

    python -m lampfleet.devlibs                # fetch what is missing, print the directories
    python -m lampfleet.devlibs --json

Cache: $LAMPFLEET_MPYLIB, else ~/.cache/lampfleet/mpylib. Offline: put the sdist in $LAMPFLEET_SDIST_DIR
(the file name as on PyPI) and nothing is downloaded.

Libraries that are not on PyPI, such as micropython-lib's `lora` drivers, are added to the cache from a
local copy (a micropython-lib checkout brought on a USB stick, say) and then flashed like the others:

    python -m lampfleet.devlibs --add ~/micropython-lib/micropython/lora/lora/lora           # -> /lib/lora
    python -m lampfleet.devlibs --add ~/micropython-lib/micropython/lora/lora-sx127x/lora    # merged in
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import tarfile
import urllib.request
from pathlib import Path, PurePosixPath

PYPI_JSON = "https://pypi.org/pypi/{project}/json"  # the per-version endpoint is not served by every mirror

# name -> PyPI project, pinned version and sdist digest, and the package directory inside the sdist.
LIBS = {
    "umqtt.simple2": {
        "project": "micropython-umqtt.simple2",
        "version": "2.2.0",
        "sha256": "48fd4da7701b95986293b06d343fbc564ebe7dfa82f5c8c09364c20df755f0e4",
        "package": "umqtt",
    },
}


class DevlibError(RuntimeError):
    pass


def cache_root() -> Path:
    env = os.environ.get("LAMPFLEET_MPYLIB")
    return Path(env) if env else Path.home() / ".cache" / "lampfleet" / "mpylib"


def _sdist_bytes(spec: dict[str, str], timeout_s: float) -> bytes:
    name = f"{spec['project']}-{spec['version']}.tar.gz"
    local = os.environ.get("LAMPFLEET_SDIST_DIR")
    if local and (Path(local) / name).exists():
        return (Path(local) / name).read_bytes()
    url = PYPI_JSON.format(project=spec["project"])
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            meta = json.load(resp)
        release = meta.get("releases", {}).get(spec["version"], [])
        sdists = [u for u in release if u["packagetype"] == "sdist"]
        if not sdists:
            raise DevlibError(f"{spec['project']} {spec['version']} has no sdist on PyPI")
        with urllib.request.urlopen(sdists[0]["url"], timeout=timeout_s) as resp:
            return resp.read()
    except OSError as e:
        raise DevlibError(f"cannot download {name} from PyPI ({e}); without network, put the file in "
                          "$LAMPFLEET_SDIST_DIR") from None


def _extract(data: bytes, package: str, dest: Path) -> list[str]:
    tmp = dest.with_name(dest.name + ".part")
    if tmp.exists():
        for p in sorted(tmp.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
    written = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            parts = PurePosixPath(member.name).parts
            # <project>-<version>/<package>/<file>.py, nothing else, no links, no escapes
            if (not member.isfile() or len(parts) < 3 or parts[1] != package or not parts[-1].endswith(".py")
                    or any(p in ("..", "") or p.startswith("/") for p in parts)):
                continue
            rel = Path(*parts[1:])
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            src = tar.extractfile(member)
            assert src is not None
            target.write_bytes(src.read())
            written.append(rel.as_posix())
    if not written:
        raise DevlibError(f"the sdist holds no {package}/*.py files")
    tmp.rename(dest)
    return sorted(written)


def ensure(name: str = "umqtt.simple2", timeout_s: float = 60.0) -> Path:
    """Directory holding the library's package, fetched and checked if not cached yet."""
    if name not in LIBS:
        raise DevlibError(f"unknown MicroPython library {name!r} (known: {', '.join(sorted(LIBS))})")
    spec = LIBS[name]
    dest = cache_root() / f"{spec['project']}-{spec['version']}"
    stamp = dest / ".sha256"
    if stamp.exists() and stamp.read_text().strip() == spec["sha256"]:
        return dest
    data = _sdist_bytes(spec, timeout_s)
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec["sha256"]:
        raise DevlibError(f"{spec['project']} {spec['version']}: SHA-256 {digest} is not the pinned "
                          f"{spec['sha256']}: refusing it")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        for p in sorted(dest.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        dest.rmdir()
    _extract(data, spec["package"], dest)
    stamp.write_text(spec["sha256"] + "\n")
    return dest


def files(name: str = "umqtt.simple2") -> list[tuple[str, Path]]:
    """(path on the device, local file) pairs, for the flash tool to copy into /lib."""
    root = ensure(name)
    return [(p.relative_to(root).as_posix(), p) for p in sorted(root.rglob("*.py"))]


LOCAL = "local"  # cache subdirectory of libraries added from a local copy, laid out as under /lib


def add_local(package_dir: Path) -> list[str]:
    """Copy a MicroPython package directory's .py files into the cache as /lib/<dir name>/...;
    files of the same package added earlier are kept (driver packages split over several sources)."""
    package_dir = Path(package_dir)
    if not package_dir.is_dir() or not any(package_dir.rglob("*.py")):
        raise DevlibError(f"{package_dir}: not a directory of .py files")
    dest = cache_root() / LOCAL / package_dir.name
    added = []
    for src in sorted(package_dir.rglob("*.py")):
        if "tests" in src.relative_to(package_dir).parts:
            continue
        target = dest / src.relative_to(package_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(src.read_bytes())
        added.append(target.relative_to(cache_root() / LOCAL).as_posix())
    return added


def local_files() -> list[tuple[str, Path]]:
    """(path under /lib, local file) for every library added with --add."""
    root = cache_root() / LOCAL
    return [(p.relative_to(root).as_posix(), p) for p in sorted(root.rglob("*.py"))] if root.is_dir() else []


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--add"]:
        try:
            for d in args[1:]:
                print("\n".join(add_local(Path(d))))
        except DevlibError as e:
            print(f"lampfleet devlibs: {e}", file=sys.stderr)
            return 1
        return 0
    as_json = "--json" in args
    names = [a for a in args if a != "--json"] or sorted(LIBS)
    out = {}
    try:
        for name in names:
            out[name] = str(ensure(name))
    except DevlibError as e:
        print(f"lampfleet devlibs: {e}", file=sys.stderr)
        return 1
    print(json.dumps(out) if as_json else "\n".join(f"{k}: {v}" for k, v in out.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
