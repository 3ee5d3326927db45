"""The mode machine, as one table: each sample the controller states its facts and the first row whose
source modes include the current mode and whose facts all hold gives the next mode and its light.
History lives in latched facts: load_off (core/protect.py), safe (shell, after crashes), test (a
timer), manual_on/manual_off (the kit's switch), night (core/night.py). docs/firmware.md has the table.
"""
#
from telemetry import schema

M = schema.MODE_CODES
DAY, NIGHT, LOW, SAFE, BOOT = M["day"], M["night"], M["low_battery"], M["safe"], M["boot"]
ANY = 0xFF
# What drives the LED: nothing, the night plan, safe_level_pct, 100 %, manual_pct.
OFF, PLAN, FIXED_SAFE, FULL, MANUAL = 0, 1, 2, 3, 4

# (source modes, facts that must all hold, next mode, light). Battery protection first: nothing
# lights a disconnected load.
TABLE = (
    (ANY, ("load_off",), LOW, OFF),
    (ANY, ("safe",), SAFE, FIXED_SAFE),
    (ANY, ("test",), M["test"], FULL),
    (ANY, ("manual_on",), M["manual_on"], MANUAL),
    (ANY, ("manual_off",), M["manual_off"], OFF),
    (ANY, ("night",), NIGHT, PLAN),
    (ANY, (), DAY, OFF),
)


def next_mode(mode, facts):
    """(next mode, light) for the facts of this sample."""
    for sources, needs, to, light in TABLE:
        if sources & (1 << mode):
            for fact in needs:
                if not facts.get(fact):
                    break
            else:
                return to, light
    return mode, OFF
