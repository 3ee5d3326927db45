"""Learned state to state.json and back (shared: CPython and MicroPython)."""
import gc
import json

from firmware.tests import support as s

s.load_core()
from firmware.core import learned  # noqa: E402
from firmware.core.controller import LampState  # noqa: E402


def test_round_trip_through_json():
    state, world = s.lamp()
    s.run(state, world, 24 * 3 + 2)
    state.bat.soh_pct, state.bat.deep_discharges = 91, 4
    data = json.loads(json.dumps(learned.export(state)))
    del world
    gc.collect()  # the world's garbage out of the way of a second controller (a 96 KB heap)
    again = LampState(state.cfg)
    learned.restore(again, data)
    assert learned.export(again) == dict(data, time_ms=None)
    assert again.night.mids == state.night.mids and again.bat.harvest_mah == state.bat.harvest_mah
    assert again.bat.soc_pct() == state.bat.soc_pct()


def test_disconnected_load_stays_disconnected_after_a_reboot():
    state, world = s.lamp()
    state.prot.load_on, state.prot.off_soc = False, 5
    again = LampState(state.cfg)
    learned.restore(again, learned.export(state))
    assert not again.prot.load_on and again.prot.off_soc == 5


def test_corrupt_entries_keep_their_defaults():
    state, world = s.lamp()
    learned.restore(state, {"soh": "90", "soc": 250, "r_mohm": -3, "mids": [1, "x"], "lens": [1],
                            "harvest_mah": [1] * 40, "load_on": "no", "today_mwh": None})
    assert state.bat.soh_pct == 100 and state.bat.soc_pct() is None and state.bat.r_mohm == 20
    assert state.night.mids == [] and state.bat.harvest_mah == [] and state.prot.load_on
    learned.restore(state, ["not", "a", "dict"])
    learned.restore(state, None)
