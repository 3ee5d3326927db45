"""What the lamp has learned, as a plain dict for state.json, and back."""
# Saved: state of charge and health, battery resistance, LED load, deep-discharge count, harvest history,
# today's and yesterday's energy, hours of use, the PV nights (solar midnight and night length) and
# whether the PV sensor is trusted, and the load switch (a lamp that reboots while disconnected stays
# disconnected until the battery has recovered). Restoring is forgiving: a missing or mistyped entry
# keeps the default, because a corrupt file must never stop a lamp from lighting.


def export(state):
    bat, night, prot = state.bat, state.night, state.prot
    return {
        "soc": bat.soc_pct(), "soh": bat.soh_pct, "r_mohm": bat.r_mohm, "deep": bat.deep_discharges,
        "recharged": bat.recharged, "harvest_mah": bat.harvest_mah, "filled": bat.filled, "today_mwh": bat.today_mwh,
        "yesterday_mwh": bat.yesterday_mwh, "load_ma": state.load_full_ma, "lit_s": state.lit_s,
        "mids": night.mids, "lens": night.lens, "pv_trusted": night.pv_trusted,
        "load_on": prot.load_on, "off_soc": prot.off_soc, "time_ms": state.last_ms,
    }


def _int(data, key, default, low=-(1 << 30), high=1 << 30):
    v = data.get(key)
    if isinstance(v, int) and not isinstance(v, bool) and low <= v <= high:
        return v
    return default


def _ints(data, key, n):
    v = data.get(key)
    if isinstance(v, list) and len(v) <= n:
        for x in v:
            if not isinstance(x, int) or isinstance(x, bool):
                return None
        return v
    return None


def restore(state, data):
    if not isinstance(data, dict):
        return
    bat, night, prot = state.bat, state.night, state.prot
    bat.soh_pct = _int(data, "soh", bat.soh_pct, 10, 120)
    soc = _int(data, "soc", None, 0, 100)
    if soc is not None:
        bat.uah = bat.capacity_uah() * soc // 100
    bat.r_mohm = _int(data, "r_mohm", bat.r_mohm, 1, 2000)
    bat.deep_discharges = _int(data, "deep", 0, 0)
    bat.recharged = data.get("recharged", True) is not False
    bat.harvest_mah = _ints(data, "harvest_mah", 5) or []
    bat.filled = _int(data, "filled", 0, 0, 31)
    bat.today_mwh = _ints(data, "today_mwh", 2) or bat.today_mwh
    bat.yesterday_mwh = _ints(data, "yesterday_mwh", 2) or bat.yesterday_mwh
    cfg = state.cfg
    state.load_full_ma = _int(data, "load_ma", state.load_full_ma, cfg.load_full_ma // 4, cfg.load_full_ma * 4)
    state.lit_s = _int(data, "lit_s", 0, 0)
    mids, lens = _ints(data, "mids", 5), _ints(data, "lens", 5)
    if mids and lens and len(mids) == len(lens):
        night.mids, night.lens = mids, lens
    night.pv_trusted = data.get("pv_trusted", True) is not False
    if data.get("load_on") is False:
        prot.load_on = False
        prot.off_soc = _int(data, "off_soc", 0, 0, 100)
