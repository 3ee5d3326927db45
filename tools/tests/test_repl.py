"""The raw REPL transport against the real interpreter: raw-paste, its fallback, errors, binary files."""
from __future__ import annotations

import hashlib
import os
import time

import pytest

from tools.devfs import DeviceFs
from tools.errors import DeviceError
from tools.repl import RawRepl


@pytest.fixture
def repl(make_lamp):
    lamp = make_lamp()
    r = RawRepl.open(lamp.pty_path)
    r.enter_raw_repl(soft_reset=True)
    yield r
    r.close()


def test_raw_paste_splits_stdout_and_stderr(repl):
    out, err = repl.exec_raw("print('printed')\nraise ValueError('raised')\n")  # the traceback is the stderr part
    assert out.strip() == b"printed" and err.strip().endswith(b"ValueError: raised")
    big = "x = [\n" + "    %d,\n" * 400 % tuple(range(400)) + "]\nprint(sum(x))\n"  # many flow-control windows
    assert repl.exec(big).strip() == str(sum(range(400))).encode()
    assert repl.use_raw_paste


def test_compile_error_aborts_raw_paste_cleanly(repl):
    with pytest.raises(DeviceError) as e:
        repl.exec("def broken(:\n" + "pass\n" * 200)
    assert e.value.exc_type == "SyntaxError"
    assert repl.exec("print('still fine')").strip() == b"still fine"


def test_plain_raw_mode_fallback(repl):
    repl.use_raw_paste = False
    assert repl.exec("print(2 ** 10)").strip() == b"1024"
    with pytest.raises(DeviceError) as e:
        repl.exec("raise OSError(28)")
    assert e.value.errno == 28


def test_binary_file_round_trip_and_wire_cost(repl):
    fs = DeviceFs(repl)
    fs.setup()
    data = os.urandom(9000) + bytes(range(256)) * 8  # every byte value, incompressible head
    before = repl.bytes_out
    fs.write("/data/blob.bin", data)
    cost = repl.bytes_out - before
    assert fs.read("/data/blob.bin") == data
    assert fs.hashes("/data") == {"/data/blob.bin": hashlib.sha256(data).hexdigest()}
    assert cost < len(data) * 4 / 3 + 600  # base64 plus a few hundred bytes of commands
    text = b"".join(b"reading_%d = %d  # mV\n" % (i, i * 7) for i in range(600))
    before = repl.bytes_out
    fs.write("/data/readings.py", text)
    assert repl.bytes_out - before < len(text) / 2  # deflated
    assert fs.read("/data/readings.py") == text


def test_a_late_second_banner_does_not_shift_the_answers(repl):
    # A loaded machine answered enter_raw_repl's repeated Ctrl-A twice; the stray banner was read as the
    # raw-paste answer and the next command was "refused" with the raw-paste reply (CI, stop 19).
    repl.write(b"\x01")
    time.sleep(0.3)
    assert repl.exec("print(6 * 7)").strip() == b"42"
    assert repl.use_raw_paste
