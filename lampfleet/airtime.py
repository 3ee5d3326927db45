"""`lampfleet airtime`: time on air of a frame, and the daily airtime of a reporting profile.

    lampfleet airtime --bytes 24 --sf 12
    lampfleet airtime --bytes 24 --sf 9 --sf 12 --profile street --json
    lampfleet airtime --sf 10 --night-status-min 20 --day-status-min 60     # a profile of your own

For each spreading factor: the frame's time on air (Semtech formula, firmware/link/airtime.py), the
shortest spacing the 1 % EU868 sub-band allows, and for the profile the status frames a day as wished and
as the lamp will send them (stretched to fit 80 % of the daily budget), with the airtime a day against
the budget and against The Things Network's 30 s fair-use limit, and how many days of that reporting the
lamp's flash queue (512 frames) holds through an outage. --bytes is the status frame's size.
"""
from __future__ import annotations

import json
from typing import Any

import click

from firmware.link import cadence
from firmware.link.airtime import time_on_air_us
from firmware.link.dutycycle import DEFAULT_DAILY_US
from firmware.link.queue import DEFAULT_SLOTS

TTN_FAIR_USE_US = 30_000_000
EVENT_FRAME = cadence.EVENT_FRAME_LEN


def figures(n_bytes: int, sf: int, bw_khz: int, cr: int, preamble: int, prof: dict[str, int], budget_us: int,
            night_h: float) -> dict[str, Any]:
    bw = bw_khz * 1000
    frame_us = time_on_air_us(n_bytes, sf, bw, cr, preamble)
    event_us = time_on_air_us(EVENT_FRAME, sf, bw, cr, preamble)
    night_s = int(night_h * 3600)
    stretch = cadence.stretch_pct(prof, frame_us, event_us, budget_us, night_s=night_s)
    wished_us = cadence.daily_airtime_us(prof, frame_us, event_us, 100, night_s)
    sent_us = cadence.daily_airtime_us(prof, frame_us, event_us, stretch, night_s)
    return {
        "sf": sf, "bw_khz": bw_khz, "bytes": n_bytes, "coding_rate": f"4/{cr}", "preamble": preamble,
        "time_on_air_ms": round(frame_us / 1000, 3),
        "min_spacing_1pct_s": round(frame_us * 100 / 1e6, 1),
        "event_frame_ms": round(event_us / 1000, 3),
        "profile": {
            "night_status_min": round(prof["night_status_s"] / 60, 1),
            "day_status_min": round(prof["day_status_s"] / 60, 1),
            "events_per_day": prof["events_per_day"],
            "status_per_day_wished": cadence.status_millis_per_day(prof, 100, night_s) / 1000,
            "airtime_per_day_wished_s": round(wished_us / 1e6, 2),
            "stretch_pct": stretch,
            "night_status_min_sent": round(prof["night_status_s"] * stretch / 100 / 60, 1),
            "day_status_min_sent": round(prof["day_status_s"] * stretch / 100 / 60, 1),
            "status_per_day_sent": cadence.status_millis_per_day(prof, stretch, night_s) / 1000,
            "airtime_per_day_s": round(sent_us / 1e6, 2),
            "budget_s": budget_us / 1e6,
            "budget_used_pct": round(100 * sent_us / budget_us, 1),
            "ttn_fair_use_pct": round(100 * sent_us / TTN_FAIR_USE_US, 1),
            "queue_days": cadence.queue_days_x10(DEFAULT_SLOTS, prof, stretch, night_s) / 10,
        },
    }


@click.command(name="airtime")
@click.option("--bytes", "n_bytes", type=click.IntRange(1, 255), default=24, show_default=True,
              help="PHY payload bytes (a status frame is 24, an event frame 20-50).")
@click.option("--sf", "sfs", type=click.IntRange(7, 12), multiple=True, help="Spreading factor; repeat for several. [default: 7-12]")
@click.option("--bw", "bw_khz", type=click.Choice(["125", "250", "500"]), default="125", show_default=True,
              help="Bandwidth in kHz.")
@click.option("--cr", type=click.Choice(["4/5", "4/6", "4/7", "4/8"]), default="4/5", show_default=True)
@click.option("--preamble", type=click.IntRange(6, 65535), default=8, show_default=True, help="Preamble symbols.")
@click.option("--profile", "profile_name", type=click.Choice(sorted(cadence.PROFILES)), default="street",
              show_default=True, help="Reporting profile.")
@click.option("--night-status-min", type=click.IntRange(1, 1440), help="Override: status interval at night.")
@click.option("--day-status-min", type=click.IntRange(1, 1440), help="Override: status interval by day.")
@click.option("--events-per-day", type=click.IntRange(0, 1000), help="Override: event frames a day.")
@click.option("--budget-s", type=click.FloatRange(0.1, 3600), default=DEFAULT_DAILY_US / 1e6, show_default=True,
              help="Daily airtime budget in seconds.")
@click.option("--night-h", type=click.FloatRange(0, 24), default=12.0, show_default=True, help="Hours of night.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def command(n_bytes, sfs, bw_khz, cr, preamble, profile_name, night_status_min, day_status_min, events_per_day,
            budget_s, night_h, as_json):
    """Time on air of a LoRa frame and the daily airtime of a reporting profile."""
    prof = dict(cadence.PROFILES[profile_name])
    if night_status_min:
        prof["night_status_s"] = night_status_min * 60
    if day_status_min:
        prof["day_status_s"] = day_status_min * 60
    if events_per_day is not None:
        prof["events_per_day"] = events_per_day
    rows = [figures(n_bytes, sf, int(bw_khz), int(cr[2]), preamble, prof, int(budget_s * 1e6), night_h)
            for sf in (sfs or (7, 8, 9, 10, 11, 12))]
    if as_json:
        click.echo(json.dumps({"profile": profile_name, "results": rows}, indent=2))
        return
    p0 = rows[0]["profile"]
    click.echo(f"{n_bytes}-byte frame, BW {bw_khz} kHz, CR {cr}, preamble {preamble}; profile {profile_name}: "
               f"status every {p0['night_status_min']:g} min at night, {p0['day_status_min']:g} min by day, "
               f"{p0['events_per_day']} events a day; budget {budget_s:g} s a day")
    click.echo(f"{'SF':>3} {'airtime':>10} {'1% gap':>8} {'wished/day':>11} {'sent: night':>12} {'day':>8} "
               f"{'frames/day':>10} {'airtime/day':>12} {'budget':>7} {'TTN':>6} {'queue':>7}")
    for r in rows:
        p = r["profile"]
        frames = p["status_per_day_sent"] + p["events_per_day"]
        click.echo(f"{r['sf']:>3} {r['time_on_air_ms']:>8.1f}ms {r['min_spacing_1pct_s']:>7.1f}s "
                   f"{p['airtime_per_day_wished_s']:>10.1f}s {p['night_status_min_sent']:>9.0f}min "
                   f"{p['day_status_min_sent']:>5.0f}min {frames:>10.1f} {p['airtime_per_day_s']:>11.1f}s "
                   f"{p['budget_used_pct']:>6.0f}% {p['ttn_fair_use_pct']:>5.0f}% {p['queue_days']:>5.1f}d")
