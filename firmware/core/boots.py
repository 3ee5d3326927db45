"""Boot history: reset loops and safe mode, decided from what state.json remembers of earlier boots."""
# A boot record is [time_s, cause]. The history keeps the last 8, a crash counter and the end of a
# safe-mode period:
# - a crash is a watchdog reset or a run that ended on an unhandled error (the shell notes it before
#   dying); `crash_ok()` zeroes the counter once a run has been healthy for an hour (ESPHome's
#   safe_mode counts failed boots the same way, with 1 min and 10 boots: a dark street costs more, so 3);
# - 3 crashes in a row start 24 h of safe mode (core/controller.safe_step: PV dusk/dawn, battery
#   protection, one fixed level); then the full controller gets another chance, and one more crash
#   sends it back;
# - 3 or more boots within an hour other than wake-ups from deep sleep is a reset loop, whatever the
#   cause: a brown-out reads as power_on on the ESP32 (esp_reset_reason BROWNOUT maps to PWRON_RESET).
SAFE_CRASHES = 3
SAFE_S = 86400
LOOP_WINDOW_S = 3600
CRASH_CAUSES = ("watchdog",)  # a brown-out is the battery's problem, not the software's: reset_loop only


def new_history():
    return {"count": 0, "recent": [], "crashes": 0, "safe_until_s": 0}


def record_boot(history, now_s, cause, crashed):
    """Add this boot to `history` (a dict from state.json, or anything else for a fresh one); return
    (history, boots within the last hour including this one, safe mode on)."""
    h = history if isinstance(history, dict) else new_history()
    for key, default in new_history().items():
        if not isinstance(h.get(key), type(default)):
            h[key] = default
    h["count"] += 1
    h["recent"] = (h["recent"] + [[now_s, cause]])[-8:]
    if crashed or cause in CRASH_CAUSES:
        h["crashes"] += 1
    if h["crashes"] >= SAFE_CRASHES and h["safe_until_s"] <= now_s:
        h["safe_until_s"] = now_s + SAFE_S
        h["crashes"] = SAFE_CRASHES - 1
    boots = 1
    for t, c in h["recent"][:-1]:
        if c != "deep_sleep" and 0 <= now_s - t <= LOOP_WINDOW_S:
            boots += 1
    return h, boots, now_s < h["safe_until_s"]


def crash_ok(history):
    history["crashes"] = 0
