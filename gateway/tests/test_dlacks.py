"""The lamp's dlack (uplink type 0x4) on every ingest path: MQTT, the serial bridge, LoRaWAN. Verified like
any frame (MIC, replay window, counter), it closes its downlink entry, is counted, and stores nothing."""
from __future__ import annotations

import base64
import json

import pytest

from firmware.link.link import DownlinkGuard
from gateway.registry import Lamp
from gateway.service import RADIO_TOPIC, Gateway
from gateway.settings import LinkSettings, Settings
from gateway.tests.conftest import KEY, T0, Lamp1
from telemetry import DeviceKey, encode

UP = "lampfleet/LAMP-0001/up"
ADDR = 0x100001
DEV_EUI = "70b3d57ed0000001"


def _dlack(lamp: Lamp1, dl_id: int, result: str = "applied", key: bytes = KEY) -> bytes:
    frame = encode("dlack", ADDR, lamp.fcnt, DeviceKey(key), {"dl_id": dl_id, "result": result})
    lamp.fcnt += 1
    return frame


def _rows(gw: Gateway) -> tuple[int, int, int]:
    return tuple(gw.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("readings", "events", "boots"))


def _chirpstack(frame: bytes) -> bytes:
    return json.dumps({"deviceInfo": {"applicationId": "app-1", "devEui": DEV_EUI}, "fPort": 10,
                       "data": base64.b64encode(frame).decode(), "rxInfo": [{"rssi": -101, "snr": 4.5}],
                       "txInfo": {"frequency": 868100000, "modulation": {"lora": {"spreadingFactor": 9}}}}).encode()


PATHS = {
    "mqtt": lambda gw, frame: gw.handle(UP, frame, T0 + 60),
    "serial": lambda gw, frame: gw.handle(RADIO_TOPIC, frame, T0 + 60),
    "lorawan": lambda gw, frame: gw.handle(f"application/app-1/device/{DEV_EUI}/event/up", _chirpstack(frame), T0 + 60),
}


@pytest.fixture
def gw(tmp_path):
    link = LinkSettings(lorawan="chirpstack", lorawan_devices={DEV_EUI: "LAMP-0001"})
    published: list[tuple[str, bytes]] = []
    g = Gateway(Settings(database=tmp_path / "gw.sqlite3", clock="device", link=link),
                publish=lambda topic, body: published.append((topic, body)))
    g.registry.add(Lamp("LAMP-0001", ADDR, KEY, site="bangui"))
    g.published = published  # type: ignore[attr-defined]
    yield g
    g.close()


@pytest.mark.parametrize("path", sorted(PATHS))
def test_a_dlack_closes_its_downlink_on_every_path(gw, path):
    send = PATHS[path]
    lamp = Lamp1()
    test_on = gw.downlinks.enqueue("LAMP-0001", "command", command="test_on", arg=10)
    config = gw.downlinks.enqueue("LAMP-0001", "config", settings={"status_interval_s": 300})
    send(gw, lamp.status(T0))
    send(gw, _dlack(lamp, test_on))
    send(gw, _dlack(lamp, config, "invalid"))
    gw.flush()
    assert gw.downlinks.state(test_on) == ("acked", "applied")
    assert gw.downlinks.state(config) == ("acked", "invalid")
    assert gw.dlacks == {"applied": 1, "invalid": 1}
    assert _rows(gw) == (1, 0, 0)  # the status frame; nothing of the dlacks
    last = gw.conn.execute("SELECT last_fcnt FROM lamps WHERE lamp_id='LAMP-0001'").fetchone()[0]
    assert last == 2  # the dlacks moved the lamp's counter, persisted with the batch
    assert sum(gw.ingest.rejects.values()) == 0


@pytest.mark.parametrize("path", sorted(PATHS))
def test_dlacks_are_verified_like_any_frame(gw, path):
    send = PATHS[path]
    lamp = Lamp1()
    dl = gw.downlinks.enqueue("LAMP-0001", "command", command="reboot")
    forged = encode("dlack", ADDR, 0, DeviceKey(bytes(16)), {"dl_id": dl, "result": "applied"})
    send(gw, forged)
    assert gw.ingest.rejects["mic"] == 1 and gw.downlinks.state(dl) == ("pending", None)
    good = _dlack(lamp, dl)
    send(gw, good)
    send(gw, good)  # the same frame again (a redelivery, a second bridge)
    send(gw, _dlack(lamp, 999))  # names nothing open (an entry closed earlier, a stale dl_id)
    gw.flush()
    assert gw.downlinks.state(dl) == ("acked", "applied")
    assert gw.ingest.rejects["duplicate"] == 1
    assert gw.dlacks == {"applied": 1, "unmatched": 1}
    assert _rows(gw) == (0, 0, 0)


def test_mqtt_uplinks_are_answered_on_mqtt_and_radio_ones_are_not(gw):
    lamp = Lamp1()
    guard = DownlinkGuard(ADDR, KEY)
    dl = gw.downlinks.enqueue("LAMP-0001", "command", command="test_on", arg=10)
    gw.handle(RADIO_TOPIC, lamp.status(T0), T0 + 60)  # heard by a bridge: no MQTT answer for a LoRa lamp
    gw.flush()  # the service notices queued requests on its tick
    assert gw.published == []
    up = lamp.status(T0 + 600)
    gw.handle(UP, up, T0 + 660)
    assert gw.published == []  # answered only once the batch is committed
    gw.flush()
    (topic, frame), = gw.published
    assert topic == "lampfleet/LAMP-0001/down"
    got = guard.open(frame)
    assert (got["command"], got["arg"], got["dl_id"]) == ("test_on", 10, dl)
    assert got["ack_fcnt16"] == up[4] | up[5] << 8  # the command rides on the acknowledgement
    dlack = _dlack(lamp, dl)
    gw.handle(UP, dlack, T0 + 661)
    gw.flush()
    gw.handle(UP, lamp.status(T0 + 1200), T0 + 1260)
    gw.handle(UP, up, T0 + 1261)  # a resend (its answer was lost): acknowledged again, not stored twice
    gw.flush()
    answers = [guard.open(f) for _t, f in gw.published[1:]]
    assert [(a["type"], a["ack_fcnt16"]) for a in answers] == [("ack", dlack[4]), ("ack", up[4])]
    assert gw.downlinks.state(dl) == ("acked", "applied")


def test_time_sync_is_stamped_with_the_fleets_clock_in_device_mode(gw):
    lamp = Lamp1()
    gw.handle(UP, lamp.status(T0), T0 + 60)
    gw.downlinks.enqueue("LAMP-0001", "command", command="time_sync")
    gw.tick()
    gw.handle(UP, lamp.status(T0 + 3600), T0 + 3660)
    gw.flush()
    got = DownlinkGuard(ADDR, KEY).open(gw.published[-1][1])
    assert got["command"] == "time_sync" and got["arg"] == T0 + 3600 - (T0 + 3600) % 60  # the device clock


def test_radio_answer_acknowledges_and_carries_the_queued_request(gw):
    lamp = Lamp1()
    guard = DownlinkGuard(ADDR, KEY)
    dl = gw.downlinks.enqueue("LAMP-0001", "config", settings={"night_level_pct": 70})
    status = lamp.status(T0)
    verdict, reply = gw.answer(status, T0 + 60)
    got = guard.open(reply)
    assert verdict == "new" and got["type"] == "config" and got["ack_fcnt16"] == 0 and got["dl_id"] == dl
    verdict, reply = gw.answer(_dlack(lamp, dl), T0 + 61)
    assert verdict == "new" and guard.open(reply) == {"version": 1, "type": "ack", "devaddr": ADDR, "fcnt": 1,
                                                      "ack_fcnt16": 1, "pending": False}
    verdict, reply = gw.answer(status, T0 + 62)  # the lamp missed the ack and sent its frame again
    assert verdict == "duplicate" and guard.open(reply)["ack_fcnt16"] == 0
    assert gw.answer(status[:-1] + bytes([status[-1] ^ 1]), T0 + 63) == ("mic", None)
    assert gw.answer(b"\x19" + status[1:], T0 + 63) == ("refused", None)  # a downlink heard on the air
    assert gw.answer(status, T0 + 63, ack=False)[1] is None  # LoRaWAN: nothing queued, no answer
    gw.flush()
    assert gw.downlinks.state(dl) == ("acked", "applied") and _rows(gw) == (1, 0, 0)
    assert gw.published == []


def test_cli_queues_settings_and_refuses_bad_ones(gw):
    from click.testing import CliRunner

    from lampfleet.cli import cli

    db = str(gw.settings.database)
    out = CliRunner().invoke(cli, ["downlink", "LAMP-0001", "--set", "status_interval_s=300", "--set",
                                   "night_level_pct=70", "--db", db, "--json"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["settings"] == {"status_interval_s": 300, "night_level_pct": 70}
    assert gw.downlinks.pending("LAMP-0001")[0]["fields"] == {"settings": data["settings"]}
    for bad in (["--set", "nonsense=1"], ["--set", "sample_s=-5"], ["--set", "sample_s"],
                ["--set", "sample_s=1", "--reboot"]):
        out = CliRunner().invoke(cli, ["downlink", "LAMP-0001", *bad, "--db", db])
        assert out.exit_code != 0, (bad, out.output)
    assert len(gw.downlinks.pending("LAMP-0001")) == 1
