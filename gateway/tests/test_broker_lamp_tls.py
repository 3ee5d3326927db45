"""Registry -> `lampfleet broker-config` -> provisioning -> a lamp on the real MicroPython interpreter with
the real umqtt.simple2: the provisioned config (password derived from the lamp's key, the broker's CA as
DER) gets the lamp's frame to the gateway over TLS; the same lamp with another CA, or with another lamp's
password, never connects. Also the config rules of firmware/hal/mqtt_config.py on CPython."""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from firmware.hal.mqtt_config import MqttConfigError, transport_args
from gateway.broker.tls import make_ca
from gateway.link.acl import lamp_password
from gateway.tests.conftest import KEY, T0, Lamp1
from gateway.tests.receivers import wait_for
from gateway.tests.test_broker_config import KEY2, Deployment, client, close
from firmware.link.tests.test_mqtt_on_micropython import answer_as_gateway, decoded_fcnts, start_lamp
from lampfleet import devlibs
from lampfleet.broker import free_port
from tools.errors import ToolError
from tools.provision import Provisioning, build_config, redacted

ROOT = Path(__file__).resolve().parents[2]
MICROPYTHON = str(Path(os.sys.executable).parent / "micropython")


def run_lamp(tmp_path: Path, cfg: dict, frame: bytes) -> dict:
    path = tmp_path / f"config-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(cfg))
    env = dict(os.environ, MICROPYPATH=f"{ROOT}:{devlibs.ensure('umqtt.simple2')}:.frozen")
    res = subprocess.run([MICROPYTHON, str(Path(__file__).with_name("upy_tls_lamp.py")), str(path), frame.hex()],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def provisioned(lamp_id: str, key: bytes, mqtt: dict) -> dict:
    live = {"lamp_id": lamp_id, "devaddr": 0x100001, "key_hex": key.hex()}
    cfg, _ = build_config(Provisioning(lamp_id, settings={"mqtt": mqtt}), live)
    return cfg


def test_provisioned_micropython_lamp_reaches_the_gateway_over_tls(tmp_path):
    d = Deployment(tmp_path, lorawan="").start()
    gw, res = client(d, d.gateway_user, d.gateway_password, subscribe=[("lampfleet/+/up", 1)])
    try:
        cfg = provisioned("LAMP-0001", KEY, {"server": "127.0.0.1", "port": d.port, "wifi_ssid": "x",
                                             "wifi_password": "secret", "ca_file": str(d.ca)})
        m = cfg["mqtt"]
        assert m["user"] == "LAMP-0001" and m["password"] == lamp_password(KEY) and "ca_file" not in m
        shown = json.dumps(redacted(cfg))
        assert m["password"] not in shown and "secret" not in shown and KEY.hex() not in shown
        frame = Lamp1().status(T0)
        assert run_lamp(tmp_path, cfg, frame) == {"published": True}
        assert wait_for(lambda: res["messages"] == [("lampfleet/LAMP-0001/up", frame)])
        # another CA: the TLS handshake fails; another lamp's password: refused
        other = make_ca(tmp_path / "other", ["127.0.0.1"])
        bad_ca = provisioned("LAMP-0001", KEY, {"server": "127.0.0.1", "port": d.port, "ca_file": str(other["ca"])})
        assert "error" in run_lamp(tmp_path, bad_ca, frame)
        wrong = provisioned("LAMP-0001", KEY2, {"server": "127.0.0.1", "port": d.port, "ca_file": str(d.ca)})
        assert "error" in run_lamp(tmp_path, wrong, frame)
        # the name the lamp dials must be in the broker's certificate
        by_name = provisioned("LAMP-0001", KEY, {"server": "localhost", "port": d.port, "ca_file": str(d.ca)})
        assert run_lamp(tmp_path, by_name, frame) == {"published": True}
        time.sleep(0.3)
        assert len(res["messages"]) == 2
    finally:
        close(gw)
        d.stop()


def test_mqtt_section_defaults_to_tls_and_needs_the_ca(tmp_path):
    args = transport_args("LAMP-0001", {"server": "10.0.0.2", "password": "pw", "ca": "AAAA"})
    assert args["port"] == 8883 and args["ssl"] and args["ssl_params"]["server_hostname"] == "10.0.0.2"
    assert args["ssl_params"]["cadata"] == b"\0\0\0" and args["user"] == b"LAMP-0001"
    lab = transport_args("LAMP-0001", {"server": "127.0.0.1", "tls": False})
    assert (lab["port"], lab["ssl"], lab["ssl_params"], lab["user"]) == (1883, False, None, None)
    for bad in ({"server": "10.0.0.2"}, {"tls": False}):
        with pytest.raises(MqttConfigError):
            transport_args("LAMP-0001", bad)
    with pytest.raises(ToolError, match="CA"):
        provisioned("LAMP-0001", KEY, {"server": "10.0.0.2"})
    # re-provisioning without "mqtt" keeps the section, with the password of the (new) key
    cfg = provisioned("LAMP-0001", KEY, {"server": "10.0.0.2", "tls": False})
    again, _ = build_config(Provisioning("LAMP-0001", new_key=True), cfg)
    assert again["mqtt"]["server"] == "10.0.0.2" and again["mqtt"]["password"] == \
        lamp_password(bytes.fromhex(again["key_hex"])) != cfg["mqtt"]["password"]


def test_firmware_mqtt_transport_under_the_generated_logins(tmp_path):
    """The firmware's own MqttTransport (birth, last will, downlink subscription, persistent session) on
    MicroPython, through the loopback plain listener (`--plain-port`) with its derived password."""
    plain = free_port()
    d = Deployment(tmp_path, lorawan="", plain_port=plain).start()
    gw, res = client(d, d.gateway_user, d.gateway_password, subscribe=[("lampfleet/#", 1)])
    record = gw.on_message
    answered = iter(range(1, 100))

    def record_and_answer(c, u, m) -> None:  # type: ignore[no-untyped-def]
        record(c, u, m)
        if m.topic.endswith("/up"):
            answer_as_gateway(c, m, next(answered))

    gw.on_message = record_and_answer
    work = tmp_path / "lamp"
    work.mkdir()
    proc, _lines = start_lamp(plain, work, 5, 20, ("LAMP-0001", lamp_password(KEY)))
    try:
        frames = lambda: [m for t, m in res["messages"] if t == "lampfleet/LAMP-0001/up"]  # noqa: E731
        assert wait_for(lambda: len(frames()) == 5, 20), proc.stderr.read() if proc.poll() is not None else res
        assert decoded_fcnts(frames()) == list(range(5))
        assert ("lampfleet/LAMP-0001/status", b"online") in res["messages"]
        proc.wait(20)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        close(gw)
        d.stop()
