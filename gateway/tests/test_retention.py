"""Retention: raw readings are downsampled per local day before they expire; stale frames are refused."""
from __future__ import annotations

from gateway.service import Gateway
from gateway.settings import Settings, StorageSettings
from gateway.tests.synth import Fleet


def _gateway(tmp_path, fleet, days=2):
    gw = Gateway(Settings(database=tmp_path / "gw.sqlite3", clock="device",
                          storage=StorageSettings(raw_retention_days=days, downsample_every_s=6 * 3600)))
    for s in fleet.lamps:
        gw.registry.add(s.lamp)
    return gw


def _feed(gw, fleet, steps, keep=None):
    for _ in range(steps):
        for s, frame in fleet.step():
            raw = fleet.encoded(s, frame)
            if keep is not None:
                keep.append((s.lamp_id, raw))
            gw.handle(f"lampfleet/{s.lamp_id}/up", raw)
        gw.flush()


def test_days_are_aggregated_and_raw_rows_pruned_after_retention(tmp_path):
    fleet = Fleet(2)
    gw = _gateway(tmp_path, fleet)
    _feed(gw, fleet, 144 * 5)
    days = gw.conn.execute("SELECT day, frames, charge_mah, discharge_mah, lit_min, vbat_min_mv, modes FROM daily "
                           "WHERE lamp_id='BGI-0001' ORDER BY day").fetchall()
    assert [d[0] for d in days] == ["2026-08-01", "2026-08-02", "2026-08-03", "2026-08-04", "2026-08-05", "2026-08-06"]
    full = days[1]
    assert full[1] == 144 and full[2] > 10_000 and full[3] > 5_000 and 600 <= full[4] <= 760
    assert set(full[6].split(",")) == {"day", "night"}
    oldest = gw.conn.execute("SELECT min(time_s) FROM readings").fetchone()[0]
    assert gw.now_s() - oldest <= 3 * 86400  # raw rows beyond two days (plus the current one) are gone
    assert gw.conn.execute("SELECT count(*) FROM daily WHERE day='2026-08-01'").fetchone()[0] == 2  # kept
    gw.close()


def test_frames_older_than_the_raw_horizon_are_refused_as_stale(tmp_path):
    fleet = Fleet(1)
    gw = _gateway(tmp_path, fleet, days=1)
    old = []
    _feed(gw, fleet, 20, old)
    _feed(gw, fleet, 144 * 3)
    stored = gw.conn.execute("SELECT count(*) FROM readings").fetchone()[0]
    for lamp_id, raw in old[1:]:  # a very late replay of the first frames
        gw.handle(f"lampfleet/{lamp_id}/up", raw)
    gw.flush()
    assert gw.ingest.rejects["stale"] == 20
    assert gw.conn.execute("SELECT count(*) FROM readings").fetchone()[0] == stored
    gw.close()
