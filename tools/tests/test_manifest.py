"""The freeze manifest (tools/manifest.py) names exactly the modules the flash tool installs in /lib."""
from __future__ import annotations

import ast
from pathlib import Path

from tools.build import app_sources
from tools.manifest import main, manifest


def test_the_manifest_freezes_every_installed_module_under_its_package_path(tmp_path):
    frozen = {}
    for line in manifest().splitlines():
        if line.startswith("#"):
            continue
        call = ast.parse(line).body[0].value
        assert isinstance(call, ast.Call) and call.func.id == "freeze"
        root, module = (ast.literal_eval(arg) for arg in call.args)
        assert (Path(root) / module).is_file()
        frozen["/lib/" + module.removesuffix(".py")] = (Path(root) / module).resolve()
    assert frozen == {path: src.resolve() for path, src in app_sources().items()}
    assert "/lib/firmware/shell/app" in frozen and "/lib/telemetry/codec" in frozen
    assert "/lib/firmware/main" not in frozen and not any("/tests/" in path for path in frozen)
    out = tmp_path / "manifest.py"
    assert main([str(out)]) == 0 and out.read_text() == manifest()
