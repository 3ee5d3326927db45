"""Host-only parts: image offsets and chip checks, .mpy compatibility, config building, encodings."""
from __future__ import annotations

import base64
import struct
import zlib

import pytest

from tools import build, image, provision
from tools.devfs import encode_chunk
from tools.errors import ToolError
from tools.ports import KNOWN_ADAPTERS, describe_port
from tools.repl import parse_device_error


def esp_image(chip_id: int) -> bytes:
    header = bytes([0xE9, 3, 2, 0x20]) + struct.pack("<I", 0x400805CC) + bytes([0xEE, 0, 0, 0])
    return header + struct.pack("<H", chip_id) + bytes(64)


@pytest.mark.parametrize("chip,chip_id,offset", [("ESP32", 0, 0x1000), ("ESP32-S3", 9, 0x0), ("ESP32-C3", 5, 0x0)])
def test_image_offset_follows_the_detected_chip(chip, chip_id, offset):
    plan = image.plan_image(esp_image(chip_id), chip, "/dev/ttyUSB0")
    assert (plan.chip, plan.offset) == (chip, offset)
    assert plan.esptool_args("/dev/ttyUSB0", "fw.bin", 460800)[-2:] == [hex(offset), "fw.bin"]


def test_image_for_another_chip_is_refused():
    with pytest.raises(ToolError) as e:
        image.plan_image(esp_image(9), "ESP32", "/dev/ttyUSB0")
    assert e.value.kind == "wrong-chip" and "ESP32-S3" in e.value.message and "ESP32_GENERIC" in e.value.hint
    with pytest.raises(ToolError) as e:
        image.plan_image(esp_image(0), "ESP32", "/dev/ttyUSB0", expected_chip="esp32s3")
    assert e.value.kind == "wrong-chip"
    with pytest.raises(ToolError) as e:
        image.plan_image(b"not an image" * 4, "ESP32")
    assert e.value.kind == "bad-image"


def test_mpy_targets_and_headers():
    assert build.MpyTarget.from_sys_mpy(11014) == build.ESP32_TARGET
    assert build.MpyTarget.from_sys_mpy(2822).arch == "x64"
    assert build.MpyTarget.from_sys_mpy(12038).arch == "rv32imc"
    esp32 = build.ESP32_TARGET
    assert build.mpy_header_ok(bytes.fromhex("4d06001f"), esp32)  # plain bytecode loads anywhere
    assert build.mpy_header_ok(bytes.fromhex("4d062b1f"), esp32)  # xtensawin native
    assert not build.mpy_header_ok(bytes.fromhex("4d060b1f"), esp32)  # x64 native code
    assert not build.mpy_header_ok(bytes.fromhex("4d05001f"), esp32)  # MicroPython 1.12-1.18 format


def test_mpy_version_mismatch_is_an_error_with_a_way_out(app_repo):
    with pytest.raises(ToolError) as e:
        build.build_app(build.MpyTarget(5, 0, "xtensawin"), app_repo)
    assert e.value.kind == "mpy-version" and "--source" in e.value.hint
    src = build.build_app(None, app_repo)
    assert src.fmt == "py" and "/lib/firmware/shell/app.py" in src.files


def test_app_sources_leave_out_tests_vectors_and_boards(app_repo):
    paths = build.app_sources(app_repo)
    assert "/lib/firmware/shell/app" in paths and "/lib/telemetry/codec" in paths
    assert not [p for p in paths if "/tests" in p or "/vectors" in p or "/boards" in p]
    assert "/lib/firmware/main" not in paths  # it is /main.py
    data = build.app_data(app_repo)
    assert not [p for p in data if "/tests" in p or "/vectors/" in p or "/boards/" in p]


def test_esp32_build_compiles_for_xtensawin(app_repo):
    manifest = build.build_app(build.ESP32_TARGET, app_repo)
    assert manifest.fmt == "mpy" and manifest.files["/main.py"].startswith(b"#")
    assert all(data[:2] == b"M\x06" for p, data in manifest.files.items() if p.endswith(".mpy"))


def test_config_keeps_key_for_the_same_lamp_and_makes_one_for_a_new_one():
    prov = provision.Provisioning("BGI-0042", "bangui-5e", "street")
    first, new = provision.build_config(prov, None)
    assert new and len(bytes.fromhex(first["key_hex"])) == 16 and 0 < first["devaddr"] < 1 << 24
    again, new = provision.build_config(prov, first)
    assert again == first and not new
    other, new = provision.build_config(provision.Provisioning("BGI-0043"), first)
    assert new and other["key_hex"] != first["key_hex"]
    staged, new = provision.build_config(prov, None, staged=first)  # resumed run: the staged key is reused
    assert staged["key_hex"] == first["key_hex"] and new
    rekeyed, new = provision.build_config(provision.Provisioning("BGI-0042", new_key=True), first)
    assert new and rekeyed["key_hex"] != first["key_hex"] and rekeyed["devaddr"] == first["devaddr"]
    resumed, new = provision.build_config(provision.Provisioning("BGI-0042", new_key=True), first, staged=rekeyed)
    assert new and resumed["key_hex"] == rekeyed["key_hex"]
    assert provision.redacted(first)["key_hex"] == "<redacted>" and first["key_hex"] != "<redacted>"


@pytest.mark.parametrize("bad", [dict(lamp_id="has space"), dict(lamp_id="x", profile="disco"),
                                 dict(lamp_id="x", devaddr=1 << 24)])
def test_provisioning_is_validated(bad):
    with pytest.raises(ToolError) as e:
        provision.Provisioning(**bad).validate()
    assert e.value.kind == "bad-argument"


def test_chunk_encoding_deflates_text_and_never_grows_binary_past_base64():
    text = (b"def step(state, inputs, now_ms):\n    return state\n" * 80)[:4096]
    payload, flag = encode_chunk(text, True)
    assert flag == 1 and len(payload) < len(text) / 4
    d = zlib.decompressobj(-12)
    assert d.decompress(base64.b64decode(payload)) == text
    noise = bytes((i * 7919 + 13) % 251 for i in range(4096))
    payload, flag = encode_chunk(noise, True)
    assert len(payload) <= len(base64.b64encode(noise))
    assert encode_chunk(text, False) == (base64.b64encode(text), 0)


def test_device_tracebacks_become_errors():
    trace = b'Traceback (most recent call last):\r\n  File "<stdin>", line 1\r\nOSError: [Errno 28] ENOSPC\r\n'
    e = parse_device_error(trace)
    assert (e.exc_type, e.errno) == ("OSError", 28) and "ENOSPC" in e.message
    e = parse_device_error(b"Traceback (most recent call last):\nValueError: incompatible .mpy file\n")
    assert (e.exc_type, e.errno) == ("ValueError", None)


def test_adapter_table_and_unknown_ports():
    assert KNOWN_ADAPTERS[(0x10C4, 0xEA60)] == "CP210x" and (0x303A, 0x1001) in KNOWN_ADAPTERS
    port = describe_port("/dev/ttyUSB42")
    assert not port.emulated and port.adapter == "unknown"
