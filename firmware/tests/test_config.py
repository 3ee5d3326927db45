"""Settings: defaults per profile, validation, sites (shared: CPython and MicroPython)."""
from firmware.core import config, sites
from firmware.tests.support import cfg, chemistry


def _error(fn, *args, **kw):
    try:
        fn(*args, **kw)
    except config.ConfigError as e:
        return e.field
    return None


def test_street_defaults_and_site_coordinates():
    c = cfg(site="bangui")
    assert (c.lat_mdeg, c.lon_mdeg) == (4361, 18555)
    assert c.profile == "street" and c.fixed_pct is None and c.battery.lvd_mv == 12000
    assert c.night_profile == [["dusk", 0, 100], ["dusk", 240, 40], ["dawn", -90, 70]]


def test_district_resolves_to_its_city_and_unknown_site_is_refused():
    assert sites.lookup("bangui-3") == sites.SITES["bangui"]
    assert _error(config.build, {}, site="atlantis", battery=chemistry()) == "site"


def test_kit_defaults_and_no_coordinates_on_a_kit():
    c = cfg(profile="kit", site="bangui-5")
    assert c.battery.lvd_mv == 3000 and c.battery_mah == 6000 and c.lat_mdeg == 4361
    bad = {"lat_mdeg": 4370, "lon_mdeg": 18560}
    assert _error(config.build, bad, profile="kit", battery=chemistry("lifepo4_1s")) == "lat_mdeg"


def test_street_lamp_may_carry_its_own_coordinates():
    c = cfg({"lat_mdeg": 4400, "lon_mdeg": 18600}, site="bangui")
    assert (c.lat_mdeg, c.lon_mdeg) == (4400, 18600)
    assert _error(config.build, {"lat_mdeg": 4400}, battery=chemistry()) == "lon_mdeg"


def test_fixed_controller_setting():
    assert cfg({"controller": "fixed:60"}).fixed_pct == 60
    for bad in ("fixed:101", "fixed:", "fixed:x", "dimmer"):
        assert _error(config.build, {"controller": bad}, battery=chemistry()) == "controller", bad


def test_night_profile_validation():
    good = [["dusk", 0, 80], ["midnight", -30, 30], ["dawn", -60, 60]]
    assert cfg({"night_profile": good}).night_profile == good
    for bad in ([], [["noon", 0, 50]], [["dusk", 0, 120]], [["dusk", "0", 50]], [["dusk", 0]]):
        assert _error(config.build, {"night_profile": bad}, battery=chemistry()) == "night_profile", bad


def test_light_sensor_thresholds_validation():
    assert config.build({"light_sensor": [15, 45]}, battery=chemistry()).light_sensor == [15, 45]
    assert config.build({}, battery=chemistry()).light_sensor is None
    for bad in ([15, 20], [0, 10], [15], "15,45", [15, "45"], True, [-5, 10]):
        assert _error(config.build, {"light_sensor": bad}, battery=chemistry()) == "light_sensor", bad


def test_integers_and_battery_profile_required():
    assert _error(config.build, {"sample_s": 0}, battery=chemistry()) == "sample_s"
    assert _error(config.build, {"autonomy_days": -1}, battery=chemistry()) == "autonomy_days"
    assert _error(config.build, {}) == "battery"
    partial = dict(chemistry())
    del partial["lvd_mv"]
    assert _error(config.build, {}, battery=partial) == "battery"


def test_unknown_keys_pass_through_for_other_layers():
    assert cfg({"night_status_s": 1800}).night_status_s == 1800


def test_chemistry_profiles_are_consistent():
    for name in ("lifepo4_4s", "lead_acid_12v", "lifepo4_1s"):
        p = chemistry(name)
        socs = [x[0] for x in p["ocv_mv"]]
        mvs = [x[1] for x in p["ocv_mv"]]
        assert socs[0] == 0 and socs[-1] == 100 and socs == sorted(socs), name
        assert mvs == sorted(mvs), name
        assert p["lvd_min_mv"] < p["lvd_mv"] < p["lvr_mv"] < p["full_mv"], name
        assert p["lvr_mv"] - p["lvd_mv"] >= 150 and p["reconnect_delay_s"] >= 300, name
    assert chemistry("lifepo4_4s")["charge_min_c"] == 0
    assert chemistry("lead_acid_12v")["temp_comp_mv_per_c"] == -18
