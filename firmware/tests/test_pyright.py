"""basedpyright finds no errors in the ESP32 HAL and board validation against micropython-esp32-stubs
(CPython only). firmware/pyrightconfig.json is the settings for editors; this test writes the same
settings with this interpreter's site-packages, where the stubs are installed."""
import json
import subprocess
import sys
import sysconfig
from pathlib import Path

FIRMWARE = Path(__file__).resolve().parents[1]
ROOT = FIRMWARE.parent
CHECKED = (FIRMWARE / "hal" / "esp32.py", FIRMWARE / "hal" / "board.py")


def _pyright(tmp_path, files):
    stubs = sysconfig.get_paths()["purelib"]
    assert (Path(stubs) / "machine.pyi").exists(), "pip install micropython-esp32-stubs (the [test] extra)"
    config = {"include": [str(f) for f in files], "stubPath": stubs, "typeshedPath": stubs,
              "extraPaths": [str(ROOT)], "pythonVersion": "3.11", "typeCheckingMode": "standard",
              "reportMissingModuleSource": False}
    (tmp_path / "pyrightconfig.json").write_text(json.dumps(config))
    exe = Path(sys.executable).parent / "basedpyright"
    return subprocess.run([str(exe), "--outputjson", "-p", str(tmp_path / "pyrightconfig.json")],
                          capture_output=True, text=True, timeout=300)


def _errors(result, path=None):
    report = json.loads(result.stdout)
    return [d for d in report["generalDiagnostics"]
            if d["severity"] == "error" and (path is None or d["file"] == str(path))]


def test_esp32_hal_and_board_have_no_errors_and_the_stubs_are_micropythons(tmp_path):
    # The negative control, checked in the same run: calls that CPython's typeshed would not know or would
    # accept differently must be errors, or the stubs are not in effect.
    bad = tmp_path / "bad.py"
    bad.write_text("import machine\nimport time\n\nmachine.PWM(machine.Pin(2)).duty_u16('x')\n"
                   "time.sleep_ms('soon')\nmachine.WDT(timeout='long')\n")
    result = _pyright(tmp_path, CHECKED + (bad,))
    for path in CHECKED:
        errors = _errors(result, path)
        assert errors == [], json.dumps(errors, indent=1)
    assert json.loads(result.stdout)["summary"]["filesAnalyzed"] == len(CHECKED) + 1
    assert len(_errors(result, bad)) == 3, _errors(result, bad)


def test_committed_config_matches_what_is_checked():
    text = (FIRMWARE / "pyrightconfig.json").read_text()
    body = json.loads("\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//")))
    assert sorted(body["include"]) == sorted(str(p.relative_to(FIRMWARE)) for p in CHECKED)
    assert body["stubPath"] == body["typeshedPath"]
