"""InfluxDB output against a real server speaking the v2 write API (VictoriaMetrics, started here):
schema, device timestamps, idempotent replays, and nothing lost while the server is down."""
from __future__ import annotations

import pytest

from gateway import db
from gateway.influx import InfluxWriter, build_lines
from gateway.service import Gateway
from gateway.settings import InfluxSettings, Settings
from gateway.tests.synth import Fleet
from gateway.tests.vm import VictoriaMetrics


@pytest.fixture
def vm(tmp_path):
    server = VictoriaMetrics(tmp_path / "vm").start()
    yield server
    server.stop()


def _gateway(tmp_path, url, fleet):
    gw = Gateway(Settings(database=tmp_path / "gw.sqlite3", clock="device",
                          influx=InfluxSettings(url=url, batch_size=500, max_backoff_s=0.2)))
    for s in fleet.lamps:
        gw.registry.add(s.lamp)
    return gw


def _feed(gw, fleet, steps, sent=None):
    for _ in range(steps):
        for s, frame in fleet.step():
            raw = fleet.encoded(s, frame)
            gw.handle(f"lampfleet/{s.lamp_id}/up", raw)
            if sent is not None:
                sent.append((s.lamp_id, raw))
        gw.flush()


def _write_api(url):
    from influxdb_client import InfluxDBClient
    from influxdb_client.client.write_api import SYNCHRONOUS

    client = InfluxDBClient(url=url, token="t", org="lampfleet", timeout=2000)
    return client, client.write_api(write_options=SYNCHRONOUS)


def _drain(writer, conn, api):
    while writer.ship_once(conn, api):
        pass
    return writer.pending(conn)


def test_points_follow_the_schema_with_device_timestamps(tmp_path, vm):
    fleet = Fleet(3)
    gw = _gateway(tmp_path, vm.url, fleet)
    _feed(gw, fleet, 10)
    writer = InfluxWriter(gw.settings.influx, gw.settings.database)
    client, api = _write_api(vm.url)
    try:
        assert _drain(writer, gw.conn, api) == 0
        counts = vm.wait_count("lamp_status_vbat_mv", 30)
        assert counts == {s.lamp_id: 10 for s in fleet.lamps}
        boots = vm.wait_count("lamp_boot_boot_count", 3)
        assert sum(boots.values()) == 3
        [series] = [x for x in vm.export('{__name__="lamp_status_vbat_mv", lamp_id="BGI-0001"}')]
        assert series["metric"] == {"__name__": "lamp_status_vbat_mv", "lamp_id": "BGI-0001", "kind": "street",
                                    "site": "bangui", "district": "Lakouanga"}
        stored = gw.conn.execute("SELECT time_s, fcnt, vbat_mv FROM readings WHERE lamp_id='BGI-0001' ORDER BY fcnt").fetchall()
        assert [ts // 1000 for ts in series["timestamps"]] == [t for t, _, _ in stored]
        assert series["values"] == [v for _, _, v in stored]
    finally:
        client.close()
        gw.close()


def test_replayed_frames_are_neither_spooled_nor_written_twice(tmp_path, vm):
    fleet = Fleet(2)
    gw = _gateway(tmp_path, vm.url, fleet)
    sent = []
    _feed(gw, fleet, 20, sent)
    spooled = gw.conn.execute("SELECT count(*) FROM spool").fetchone()[0]
    for lamp_id, raw in sent:  # the whole backlog again
        gw.handle(f"lampfleet/{lamp_id}/up", raw)
    gw.flush()
    assert gw.conn.execute("SELECT count(*) FROM spool").fetchone()[0] == spooled == 42
    writer = InfluxWriter(gw.settings.influx, gw.settings.database)
    client, api = _write_api(vm.url)
    try:
        _drain(writer, gw.conn, api)
        # A crash after InfluxDB accepted a batch but before the spool forgot it re-sends that batch:
        lines = build_lines(gw.conn, [(0, "r", "BGI-0001", 3)])
        api.write(bucket="lampfleet", org="lampfleet", record=lines, write_precision="ms")
        assert vm.wait_count("lamp_status_vbat_mv", 40) == {"BGI-0001": 20, "BGI-0002": 20}
    finally:
        client.close()
        gw.close()


def test_nothing_is_lost_while_influxdb_is_down(tmp_path):
    vm = VictoriaMetrics(tmp_path / "vm")  # its port is chosen, nothing listens yet
    fleet = Fleet(2)
    gw = _gateway(tmp_path, vm.url, fleet)
    writer = InfluxWriter(gw.settings.influx, gw.settings.database)
    client, api = _write_api(vm.url)
    try:
        _feed(gw, fleet, 15)
        assert writer.ship_once(gw.conn, api) == 0 and writer.failures == 1
        assert writer.pending(gw.conn) == 32
        _feed(gw, fleet, 15)
        vm.start()
        assert _drain(writer, gw.conn, api) == 0
        assert vm.wait_count("lamp_status_vbat_mv", 60) == {"BGI-0001": 30, "BGI-0002": 30}
    finally:
        client.close()
        vm.stop()
        gw.close()


def test_line_protocol_escapes_tag_values(tmp_path):
    conn = db.connect(tmp_path / "x.sqlite3")
    conn.execute("INSERT INTO lamps (lamp_id, devaddr, key, site, district) VALUES ('A', 1, x'00', 'ban gui', 'a,b=c')")
    conn.execute("INSERT INTO boots VALUES ('A', 3, 1785582000, '1.0.0', 'power_on', 2)")
    [line] = build_lines(conn, [(1, "b", "A", 3)])
    assert line == ("lamp_boot,district=a\\,b\\=c,fw_version=1.0.0,kind=street,lamp_id=A,reset_cause=power_on,"
                    "site=ban\\ gui boot_count=2i,fcnt=3i 1785582000024")
