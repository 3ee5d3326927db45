"""Dusk/dawn decisions (shared: runs on CPython and on MicroPython)."""
from firmware.core import config
from firmware.tests.support import cfg as build_cfg
from firmware.core.daylight import DAY, NIGHT, Daylight

MIN = 60000


def _run(samples, cfg=None):
    """samples: list of (minute, pv_mv); returns list of (minute, phase, changed)."""
    cfg = cfg or build_cfg()
    d = Daylight()
    return [(m,) + d.update(cfg, pv, m * MIN) for m, pv in samples]


def test_boot_at_night_lights_at_once():
    assert _run([(0, 800)])[0] == (0, NIGHT, True)


def test_boot_by_day_stays_off():
    assert _run([(0, 19000)])[0] == (0, DAY, True)


def test_dusk_needs_confirmation_delay():
    out = _run([(0, 19000), (1, 4000), (2, 3000), (3, 2000), (4, 1500), (5, 1000), (6, 900)])
    phases = [p for _, p, _ in out]
    assert phases[:6] == [DAY] * 6
    assert out[6] == (6, NIGHT, True)


def test_storm_cloud_at_afternoon_does_not_switch():
    samples = [(0, 19000)] + [(m, 4500) for m in range(1, 4)] + [(m, 17000) for m in range(4, 20)]
    assert all(p == DAY for _, p, _ in _run(samples))


def test_headlights_at_night_do_not_switch_off():
    samples = [(0, 500)] + [(1, 9000), (2, 9000)] + [(m, 500) for m in range(3, 30)]
    assert all(p == NIGHT for _, p, _ in _run(samples))


def test_hysteresis_band_holds_the_phase():
    # Between dusk (5.0 V) and dawn (6.0 V) nothing changes, however long it lasts.
    samples = [(0, 500)] + [(m, 5500) for m in range(1, 120)]
    assert all(p == NIGHT for _, p, _ in _run(samples))


def test_dawn_after_confirmation():
    samples = [(0, 500)] + [(m, 7000) for m in range(1, 12)]
    out = _run(samples)
    changes = [(m, p) for m, p, c in out if c]
    assert changes == [(0, NIGHT), (6, DAY)]


def test_config_rejects_dawn_too_close_to_dusk():
    try:
        config.build({"dusk_pv_mv": 5000, "dawn_pv_mv": 5200})
    except config.ConfigError as e:
        assert e.field == "dawn_pv_mv"
    else:
        assert False, "expected ConfigError"


def test_config_rejects_non_integers():
    for bad in ("5000", -1, True, 1.5):
        try:
            config.build({"dusk_pv_mv": bad})
        except config.ConfigError:
            pass
        else:
            assert False, "accepted %r" % (bad,)
