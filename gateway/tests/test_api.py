"""The loopback JSON API: read-only views, acknowledgement, clear errors, loopback only."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from gateway.api import Api, ApiError, ApiServer
from gateway.service import Gateway
from gateway.settings import Settings
from gateway.tests.synth import Fleet


@pytest.fixture
def api(tmp_path):
    fleet = Fleet(3, seed=4)
    settings = Settings(database=tmp_path / "gw.sqlite3", clock="device")
    gw = Gateway(settings)
    for s in fleet.lamps:
        gw.registry.add(s.lamp)
    fleet[0].faults.add("led_open")
    for _ in range(60):
        for s, frame in fleet.step():
            gw.handle(f"lampfleet/{s.lamp_id}/up", fleet.encoded(s, frame))
        gw.flush()
    gw.close()
    server = ApiServer(settings).start()
    yield f"http://127.0.0.1:{server.port}/api/v1", fleet, Api(settings)
    server.stop()


def _get(url):
    with urllib.request.urlopen(url) as r:
        assert r.headers["Content-Type"].startswith("application/json")
        return json.load(r)


def _post(url, body):
    req = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def test_read_only_views(api):
    base, fleet, _ = api
    assert _get(f"{base}/health")["open_alerts"] == 1
    lamps = _get(f"{base}/lamps")
    assert [lp["lamp_id"] for lp in lamps] == [s.lamp_id for s in fleet.lamps] and "key" not in lamps[0]
    one = _get(f"{base}/lamps/{fleet[0].lamp_id}")
    assert one["open_alerts"][0]["fault"] == "lampFailure" and one["last_reading"]["led_ma"] == 0
    hist = _get(f"{base}/lamps/{fleet[0].lamp_id}/history?since={fleet.t - 3600}")
    assert len(hist) == 6 and hist[-1]["time_s"] < fleet.t
    assert _get(f"{base}/fleet")["sites"][0]["dark"] == 1
    assert _get(f"{base}/alerts?state=all")[0]["lamp_id"] == fleet[0].lamp_id
    assert _get(f"{base}/silences") == []


def test_ack_and_errors(api):
    base, fleet, _ = api
    [alert] = _get(f"{base}/alerts")
    assert _post(f"{base}/alerts/{alert['id']}/ack", b"not json") == (400, {"error": 'body must be JSON like {"by": '
                                                                           '"name", "comment": "..."}'})
    status, body = _post(f"{base}/alerts/{alert['id']}/ack", json.dumps({"by": "Jean"}).encode())
    assert status == 200 and body["ack_by"] == "Jean"
    assert _post(f"{base}/alerts/{alert['id']}/ack", b'{"by": "Paul"}')[0] == 409
    assert _post(f"{base}/alerts/999/ack", b'{"by": "Paul"}')[0] == 404
    for path, code in (("/nope", 404), ("/lamps/NOPE-1", 404), ("/alerts?state=x", 400),
                       (f"/lamps/{fleet[0].lamp_id}/history?since=abc", 400)):
        with pytest.raises(urllib.error.HTTPError) as e:
            _get(base + path)
        assert e.value.code == code and "error" in json.load(e.value)


def test_api_refuses_to_listen_beyond_loopback(tmp_path):
    with pytest.raises(ValueError, match="loopback only"):
        ApiServer(Settings(database=tmp_path / "x.sqlite3"), host="0.0.0.0")
    with pytest.raises(ApiError):
        Api(Settings(database=tmp_path / "x.sqlite3")).post("/api/v1/lamps", b"")
