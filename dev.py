#!/usr/bin/env python3
"""Set-up and entry point for the two README commands: `python3 dev.py demo` and `python3 dev.py test`.

Works on a fresh Debian 12 machine that has only python3: it installs the system packages it needs when
it runs as root (apt-get), creates `.venv/`, installs the project with its test extras, then runs the
demo or the whole test suite. Everything here is plain standard library on purpose: it runs before any
dependency exists.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".installed"
# System packages: mosquitto is the MQTT broker the tests and the demo use; the venv module is split out of
# python3 on Debian. victoria-metrics is the InfluxDB-protocol server for the scale-out storage tests. nodejs
# runs the 32-bit MicroPython (the webassembly port, emulator/wasm) that measures the firmware's heap.
# chromium is the real browser the console's tests drive (through Playwright, with this binary: no download).
APT_PACKAGES = ["mosquitto", "python3-venv", "python3-pip", "victoria-metrics", "nodejs", "chromium"]


def log(msg: str) -> None:
    print(f"[dev] {msg}", flush=True)


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def apt_install(packages: list[str], required: bool) -> bool:
    """Install missing Debian packages when we are root; return True when all are present afterwards."""
    missing = [p for p in packages if subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True
    ).stdout.strip() != "install ok installed"] if shutil.which("dpkg-query") else packages
    if not missing:
        return True
    if not (is_root() and shutil.which("apt-get")):
        msg = f"missing system packages {' '.join(missing)} and not root: install them with apt-get"
        if required:
            sys.exit(f"[dev] {msg}")
        log(msg + " (continuing without them)")
        return False
    log(f"apt-get install {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    res = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env)
    if res.returncode != 0:
        if required:
            sys.exit("[dev] apt-get install failed")
        return False
    # Debian starts mosquitto as a system service on install; our tests start their own brokers on free
    # ports, so the system one is stopped to keep port 1883 and the machine quiet.
    if "mosquitto" in missing and shutil.which("systemctl"):
        subprocess.run(["systemctl", "disable", "--now", "mosquitto"], capture_output=True)
    return True


def venv_python() -> Path:
    return VENV / "bin" / "python"


def ensure_venv() -> Path:
    if not venv_python().exists():
        log(f"creating {VENV}")
        res = subprocess.run([sys.executable, "-m", "venv", str(VENV)])
        if res.returncode != 0:
            shutil.rmtree(VENV, ignore_errors=True)
            apt_install(["python3-venv"], required=True)
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not STAMP.exists() or STAMP.read_text() != digest:
        py = str(venv_python())
        log("installing lampfleet and its dependencies into .venv")
        subprocess.run([py, "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", "-e", f"{ROOT}[test]"], check=True)
        # MicroPython libraries the lamp firmware uses (umqtt.simple2), fetched from PyPI into a local
        # cache for the unix-port tests and the flash tool; never committed.
        subprocess.run([py, "-m", "lampfleet.devlibs"], check=True, cwd=ROOT)
        STAMP.write_text(digest)
    # The 32-bit MicroPython, pinned and checked by its registry hash (emulator/wasm); a no-op once there.
    subprocess.run([str(venv_python()), "-m", "emulator.wasm", "install"], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    return venv_python()


def venv_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(VENV)
    return env


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test"):
        print(__doc__)
        print("usage: python3 dev.py demo [demo options] | python3 dev.py test [pytest options]")
        return 2
    what, rest = argv[0], argv[1:]
    # The tests need every service for real (nothing is skipped in CI); the demo can fall back to an
    # embedded broker, so there a failed install is not fatal.
    apt_install(APT_PACKAGES, required=(what == "test"))
    py = ensure_venv()
    os.chdir(ROOT)
    if what == "demo":
        cmd = [str(VENV / "bin" / "lampfleet"), "demo", *rest]
    else:
        cmd = [str(py), "-m", "pytest", *rest]
    log(" ".join(cmd))
    return subprocess.call(cmd, env=venv_env())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
