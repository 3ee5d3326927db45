"""Fixtures: emulated lamps on ptys (emulator/console.py), a board bus, an older app version.

LAMPFLEET_APP_DIR points the tests at another checkout's firmware/ and telemetry/ (default: this one).
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.console import SerialLamp
from tools.build import REPO
from tools.tests.support import FakeBus


@pytest.fixture(scope="session")
def app_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A snapshot of the app taken when the session starts, so that edits made meanwhile (in another
    editor, by another engineer) cannot change it between a test's build and its checks."""
    source = Path(os.environ.get("LAMPFLEET_APP_DIR") or REPO)
    root = tmp_path_factory.mktemp("app")
    for pkg in ("firmware", "telemetry"):
        shutil.copytree(source / pkg, root / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.fixture(scope="session")
def old_repo(app_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The previous release: every module differs, and one module no longer exists in the new one."""
    root = tmp_path_factory.mktemp("old_release")
    for pkg in ("firmware", "telemetry"):
        shutil.copytree(app_repo / pkg, root / pkg, ignore=shutil.ignore_patterns("__pycache__", "tests"))
    for py in root.rglob("*.py"):
        py.write_text(py.read_text() + "\n_PREVIOUS_RELEASE = 1\n")  # changes every module's bytecode
    (root / "firmware" / "version.py").write_text('FW_VERSION = "0.0.9"\n')
    (root / "firmware" / "legacy.py").write_text("RETIRED = True\n")
    return root


@pytest.fixture(autouse=True)
def _laptop_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pending keys and the gateway's public key in the test's own folder, never the user's home."""
    monkeypatch.setenv("LAMPFLEET_PENDING_KEYS", str(tmp_path / "pending-keys"))
    monkeypatch.setenv("LAMPFLEET_PUBKEY_FILE", str(tmp_path / "gateway-key.pub"))
    monkeypatch.delenv("LAMPFLEET_CONFIG", raising=False)


@pytest.fixture(scope="session")
def bus() -> Iterator[FakeBus]:
    b = FakeBus()
    yield b
    b.close()


@pytest.fixture
def make_lamp(tmp_path: Path) -> Iterator[Callable[..., SerialLamp]]:
    lamps: list[SerialLamp] = []

    def make(name: str = "lamp", **kwargs: Any) -> SerialLamp:
        lamp = SerialLamp(tmp_path / name, **kwargs)
        lamp.start()
        lamp.wait_ready()
        lamps.append(lamp)
        return lamp

    yield make
    for lamp in lamps:
        lamp.stop()
