"""The controller's clock faults (emulator/rtc.py): drift and jumps in what now_ms() reads, never in the
world's time; and the firmware sees them in fleet mode."""
from __future__ import annotations

import pytest

from emulator.faults import FaultSpecError, parse
from emulator.fleet import FleetEmulator
from emulator.rtc import LampClock
from emulator.scenario import Scenario, make_fleet
from emulator.world import LampWorld

T0 = 1_785_582_000.0  # the default scenario start
DAY = 86400.0


def _clock(spec: str) -> LampClock:
    return LampClock(T0, parse(spec))


def test_a_healthy_clock_reads_true_time_to_the_millisecond():
    clock = LampClock(T0, [])
    for t in (T0, T0 + 0.0015, T0 + 12345.678):
        assert clock.read_ms(t) == int(t * 1000)


def test_drift_accumulates_from_its_start_and_stops_when_repaired():
    clock = _clock("1:clock_drift=500@1d,1:-clock_drift@3d")
    assert clock.offset_s(T0 + DAY) == 0.0
    assert clock.offset_s(T0 + 2 * DAY) == pytest.approx(43.2)  # 500 ppm of a day
    assert clock.offset_s(T0 + 5 * DAY) == pytest.approx(86.4)  # kept after the repair
    assert clock.read_ms(T0 + 2 * DAY) == int((T0 + 2 * DAY + 43.2) * 1000)


def test_a_slow_clock_never_runs_backwards():
    clock = _clock("1:clock_drift=-999999")
    readings = [clock.read_ms(T0 + k) for k in range(0, 10_000_000, 1_000_000)]
    assert readings == sorted(readings)


def test_jumps_add_to_the_drift_and_a_repair_sets_the_clock_right():
    clock = _clock("1:clock_drift=-1000,1:clock_jump=7200@1d,1:-clock_jump@2d")
    assert clock.offset_s(T0 + DAY) == pytest.approx(7200 - 86.4)
    assert clock.offset_s(T0 + 2 * DAY) == pytest.approx(0.0)
    assert clock.offset_s(T0 + 3 * DAY) == pytest.approx(-86.4)  # drifting on from zero


def test_readings_do_not_depend_on_the_order_they_are_asked_in():
    spec = "1:clock_drift=200@6h,1:clock_jump=-600@1d,1:clock_drift=-50@2d"
    times = [T0 + k * 3600.0 for k in range(0, 80, 7)]
    forward, backward = _clock(spec), _clock(spec)
    ahead = [forward.read_ms(t) for t in times]
    backward.read_ms(times[-1])
    assert [backward.read_ms(t) for t in times] == ahead


def test_setting_the_clock_starts_from_the_new_time_and_keeps_the_drift():
    clock = _clock("1:clock_drift=1000")
    t = T0 + DAY
    assert clock.set(t, int(t * 1000) - 3_600_000) == int(t * 1000) - 3_600_000
    assert clock.offset_s(t + DAY) == pytest.approx(-3600 + 86.4)


@pytest.mark.parametrize("spec", ["1:clock_drift", "1:clock_jump@2h", "1:clock_drift=1000000"])
def test_bad_clock_specs_say_what_to_write(spec):
    with pytest.raises(FaultSpecError, match="clock_"):
        parse(spec)


def test_clock_faults_change_the_reading_not_the_world():
    lamps = make_fleet(2, seed=3)
    sc = Scenario(lamps, days=1, seed=3, faults=parse("2:clock_jump=3600"))
    right, wrong = LampWorld(sc, lamps[0], 0), LampWorld(sc, lamps[1], 1)
    t = sc.start_s + 600
    assert wrong.lamp_clock_ms(t) - right.lamp_clock_ms(t) == 3_600_000
    assert wrong.readings(t)["pv_mv"] > 0 and wrong.physics.powered


def test_the_firmware_stamps_its_frames_with_its_own_clock(tmp_path):
    from telemetry import codec, peek

    lamps = make_fleet(2, seed=5)
    sc = Scenario(lamps, days=0.3, seed=5, faults=parse("2:clock_jump=-1800"))
    sent: dict[str, list] = {}
    FleetEmulator(sc, tmp_path, sink=lambda lamp, f, t: sent.setdefault(lamp, []).append((t, f))).run()
    for ident, offset in zip(lamps, (0, -1800)):
        t, frame = sent[ident.lamp_id][0]  # the boot frame: device time to the second
        boot = codec.decode(frame, ident.key, peek(frame)["fcnt16"], int(t))
        assert boot["type"] == "boot" and boot["time_s"] == int(t) + offset


def test_both_runners_give_the_firmware_the_same_wrong_clock(tmp_path):
    from emulator.upy import UpyEmulator

    def frames(runner, workdir):
        sc = Scenario(make_fleet(2, seed=12), days=1, seed=12,
                      faults=parse("1:clock_drift=20000,2:clock_jump=-1800@3h"))
        out: dict[str, list] = {}
        runner(sc, workdir, sink=lambda lamp, f, t: out.setdefault(lamp, []).append((t, f.hex()))).run()
        return out

    assert frames(UpyEmulator, tmp_path / "upy") == frames(FleetEmulator, tmp_path / "fleet")
