"""The ingest benchmark runs end to end at a small size and its backlog check holds (figures are not tested)."""
from __future__ import annotations

import json

from click.testing import CliRunner

from gateway.bench import _Encoder, fleet, frames
from lampfleet.cli import cli
from telemetry import DeviceKey, decode


def test_bench_frames_are_valid_lamp_frames():
    lamps = fleet(3)
    batch = frames(lamps, 9)
    topic, raw = batch[4]
    assert topic == "lampfleet/BENCH-00001/up"
    d = decode(raw, DeviceKey(lamps[1].key), 1, 1785582000 + 600 + 60)
    assert d["type"] == "status" and d["fcnt"] == 1 and d["vbat_mv"] == 12900
    assert isinstance(_Encoder(bytes(16)), _Encoder)


def test_bench_ingest_small_run_loses_and_doubles_nothing(tmp_path):
    out = CliRunner().invoke(cli, ["bench", "ingest", "--frames", "1500", "--lamps", "15", "--backlog", "3000",
                                   "--workdir", str(tmp_path), "--json"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    r = json.loads(out.output)
    assert r["pipeline"]["stored"] == 1500 and r["pipeline"]["rejected"] == 0
    assert r["mqtt"]["bare_paho"]["frames"] == 1500 and r["mqtt"]["gateway"]["stored"] == 1500
    b = r["backlog"]
    assert (b["frames"], b["stored"], b["lost"], b["doubled"], b["rejected"]) == (3000, 3000, 0, 0, 0)
    assert r["mqtt"]["ratio"] > 0 and r["machine"]["cpus"] >= 1
