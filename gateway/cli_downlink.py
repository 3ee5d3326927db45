"""`lampfleet downlink LAMP --time-sync | --test-on MIN | --reboot`: queue a command for a lamp.

The command waits in the gateway's database (gateway/link/downlinks.py) and the running service publishes
it on `lampfleet/<id>/down` after the lamp's next uplink. Lamp-side handling of MQTT downlinks is not
wired yet (docs/link.md).
"""
from __future__ import annotations

from pathlib import Path

import click

from gateway.cli_common import common_options, emit, open_db, settings_from


@click.command("downlink")
@common_options
@click.argument("lamp_id")
@click.option("--time-sync", is_flag=True, help="Set the lamp's clock (the gateway's time when the frame is built).")
@click.option("--test-on", "test_on", type=click.IntRange(1, 24 * 60), metavar="MIN", help="Light the lamp for MIN minutes.")
@click.option("--reboot", is_flag=True, help="Reboot the lamp.")
def command(config_path: Path | None, database: Path | None, as_json: bool, lamp_id: str, time_sync: bool,
            test_on: int | None, reboot: bool) -> None:
    """Queue a command for LAMP; sent after its next uplink, resent until the lamp acknowledges it."""
    chosen = [name for name, on in (("time_sync", time_sync), ("test_on", test_on is not None), ("reboot", reboot))
              if on]
    if len(chosen) != 1:
        raise click.UsageError("give exactly one of --time-sync, --test-on MIN, --reboot")
    settings = settings_from(config_path, database)
    conn = open_db(settings)
    if conn.execute("SELECT 1 FROM lamps WHERE lamp_id=?", (lamp_id,)).fetchone() is None:
        raise click.ClickException(f"no lamp {lamp_id!r} in the registry")
    from gateway.link.downlinks import DownlinkQueue

    cmd = chosen[0]
    dl_id = DownlinkQueue(conn).enqueue(lamp_id, "command", command=cmd, arg=test_on if cmd == "test_on" else 0)
    data = {"id": dl_id, "lamp_id": lamp_id, "command": cmd, "arg": test_on or 0, "state": "pending"}
    emit(data, as_json, lambda: click.echo(f"queued downlink {dl_id}: {cmd} for {lamp_id}"
                                           f"{f' ({test_on} min)' if test_on else ''}; sent after its next uplink"))
