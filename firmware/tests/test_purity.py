"""The firmware core stays pure: no hardware, clock, network or asyncio imports (CPython only)."""
import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "core"
ALLOWED_ROOTS = {"struct", "json", "math", "binascii", "errno", "telemetry", "firmware"}
FORBIDDEN_FIRMWARE = ("firmware.hal", "firmware.shell")


def _imports(path: Path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            yield node.module or ""


def test_core_imports_only_the_allowlist():
    offenders = []
    for path in sorted(CORE.rglob("*.py")):
        for name in _imports(path):
            if name.split(".")[0] not in ALLOWED_ROOTS or name.startswith(FORBIDDEN_FIRMWARE):
                offenders.append(f"{path.relative_to(CORE.parent)}: {name}")
    assert offenders == []


def test_core_is_not_empty():
    assert len(list(CORE.rglob("*.py"))) >= 3
