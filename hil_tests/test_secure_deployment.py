"""The secure deployment end to end, as docs/operations.md sets it up: `lampfleet broker-config --make-ca`
writes mosquitto's configuration (TLS only, no anonymous access, a login and an ACL per lamp, the
gateway and the integrations) and mosquitto runs on exactly those files; `lampfleet gateway` connects
over TLS with its own login; two lamps run the real firmware on the MicroPython unix port, each logged in
as itself with the password provisioning gives it. Over one day and night:

    before the run   `lampfleet downlink LAMP-1 --test-on 10` (the operator's CLI)
    at 15:00 WAT     LAMP-2's LED goes open-circuit

Every frame both lamps sent is stored; LAMP-2's lampFailure is raised in the night and reaches its crew
by e-mail (a real SMTP server), in French, with reminders while it stays dark; the test-on reaches LAMP-1 and comes back acknowledged; LAMP-1 raises
nothing. The same fleet without logins reaches nothing: the broker refuses anonymous clients.
"""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

from emulator.faults import parse
from emulator.mqtt_sink import MqttSink
from emulator.scenario import Scenario, make_fleet
from emulator.upy import UpyEmulator
from gateway.link.acl import lamp_password
from gateway.registry import Lamp
from gateway.tests.receivers import SmtpSink, wait_for
from gateway.tests.test_broker_config import Deployment
from hil_tests.stack import GatewayProcess

FAULT_AT_S = 4 * 3600  # 15:00 WAT: the scenario starts at noon WAT


def test_lamps_report_alerts_reach_the_crew_and_downlinks_are_acknowledged_with_tls_logins_and_acl(tmp_path):
    fleet = make_fleet(2, seed=7)
    one, two = (ident.lamp_id for ident in fleet)
    deployment = Deployment(tmp_path, lorawan="", lamps=[Lamp(i.lamp_id, i.devaddr, i.key, kind=i.profile,
                                                               site="bangui") for i in fleet]).start()
    smtp = SmtpSink().start()
    toml = deployment.gateway_toml() + f'[crews.default]\nurls = ["{smtp.url()}"]\n'
    gateway = None
    try:
        queued = subprocess.run([sys.executable, "-m", "lampfleet", "downlink", one, "--test-on", "10",
                                 "--db", str(deployment.db)], capture_output=True, text=True, timeout=60)
        assert queued.returncode == 0 and "queued downlink" in queued.stdout, queued.stdout + queued.stderr
        gateway = GatewayProcess(tmp_path, "", deployment.db, toml=toml).start()
        url = f"mqtts://127.0.0.1:{deployment.port}"

        anonymous = MqttSink(url, ca_file=str(deployment.ca), client_id="emulated-anonymous")
        assert not anonymous.client.is_connected() and not anonymous(one, b"\x00" * 20, 0.0)
        anonymous.close()

        scenario = Scenario(fleet, days=1, seed=7, faults=parse(f"2:led_open@{FAULT_AT_S}s"),
                            settings={"night_level_pct": 50})
        sink = MqttSink(url, ca_file=str(deployment.ca),
                        passwords={i.lamp_id: lamp_password(i.key) for i in fleet})
        sink.await_downlinks(one, 1)
        result = UpyEmulator(scenario, tmp_path / "lamps", sink).run()
        sink.close()
        gateway.wait_for_counters({lp["id"]: lp["frames"] - 1 for lp in result["lamps"]})

        def acked() -> bool:
            with sqlite3.connect(deployment.db) as conn:
                return conn.execute("SELECT state, result FROM downlinks").fetchall() == [("acked", "applied")]

        assert wait_for(acked, 20)
        assert wait_for(lambda: len(smtp.messages) >= 1, 20)
        time.sleep(1.0)  # nothing more is on its way
    finally:
        if gateway:
            gateway.stop()
        smtp.stop()
        deployment.stop()

    assert all(lp["restarts"] == 0 for lp in result["lamps"]), result
    with sqlite3.connect(deployment.db) as conn:
        stored = {lamp: sorted({f for (f,) in conn.execute(
            "SELECT fcnt FROM readings WHERE lamp_id=?1 UNION SELECT fcnt FROM events WHERE lamp_id=?1 "
            "UNION SELECT fcnt FROM boots WHERE lamp_id=?1", (lamp,))}) for lamp in (one, two)}
        rejects = conn.execute("SELECT * FROM rejects").fetchall()
        alerts = conn.execute("SELECT lamp_id, fault, state FROM alerts").fetchall()
    assert rejects == []
    # every frame is stored, but for LAMP-1's acknowledgement of the test-on, which closed its downlink
    missing = {lp["id"]: len(set(range(lp["frames"])) - set(stored[lp["id"]])) for lp in result["lamps"]}
    assert missing == {one: 1, two: 0}, missing
    assert [(lamp, fault) for lamp, fault, _ in alerts] == [(two, "lampFailure")], alerts
    # the crew is told in French, then reminded every 4 h (repeat_interval_s) while the lamp stays dark
    subjects = [m["Subject"] for m in smtp.messages]
    assert subjects[0] == "lampfleet default: 1 panne(s)" and set(subjects[1:]) <= {"lampfleet default: 1 rappel(s)"}
    first = smtp.messages[0].get_body(("plain",)).get_content()
    assert two in first and one not in first, first
