"""The crew's repair loop in a real browser against the real firmware: two lamps run `firmware/` on the
MicroPython unix port (the emulator), publish through mosquitto to the gateway service, which serves the
console. Lamp 2's LED fails open at 15:00; after dusk the alert appears on the operator's open overview
without a reload; a crew on a 360-pixel phone opens it from the alert list, acknowledges it and, after
the repair, marks "LED replaced"; the lamp receives that request (a status_now command) with the answer
to its next report and acknowledges it (dlack); the alert resolves from the lamp's own reports.

The emulator runs virtual time far faster than people click: the lamps' MQTT link holds the lockstep
fleet at 20:00 virtual (GatedSink) until the crew has acted, and the LED is repaired in the world ten
virtual minutes later, as a crew at the pole would.
"""
from __future__ import annotations

import threading

import playwright.sync_api as playwright_api

from emulator.faults import parse
from emulator.mqtt_sink import MqttSink
from emulator.scenario import Scenario, make_fleet
from emulator.upy import UpyEmulator
from gateway import db
from gateway.console.users import Users
from gateway.registry import Lamp
from gateway.service import GatewayService
from gateway.settings import Settings
from gateway.tests.console_stack import PASSWORD, login
from gateway.tests.receivers import wait_for
from lampfleet.broker import Mosquitto, free_port

GATE_S = 8 * 3600  # 20:00 in Bangui: the scenario starts at noon


class GatedSink(MqttSink):
    def __init__(self, url: str, gate_at_s: float):
        super().__init__(url, client_id="console-live-lamps")
        self.gate_at_s = gate_at_s
        self.held, self.release = threading.Event(), threading.Event()

    def __call__(self, lamp_id: str, frame: bytes, t_s: float) -> bool:
        if t_s >= self.gate_at_s and not self.release.is_set():
            self.held.set()
            self.release.wait(180)
        return super().__call__(lamp_id, frame, t_s)


def test_real_firmware_led_fault_to_repair_in_the_browser(tmp_path, browser, shots):
    expect = playwright_api.expect
    broker = Mosquitto(tmp_path / "broker").start()
    lamps = make_fleet(2, seed=7)
    healthy, faulty = lamps[0].lamp_id, lamps[1].lamp_id
    scenario = Scenario(lamps, days=10 / 24, seed=7, faults=parse(f"2:led_open@4h,2:-led_open@{GATE_S // 60 + 10}m"),
                        settings={"night_level_pct": 50})
    settings = Settings(broker_url=broker.url, database=tmp_path / "gw.sqlite3", clock="device", grace_s=0,
                        api_port=free_port())
    service = GatewayService(settings)
    for i, ident in enumerate(lamps):
        service.gateway.registry.add(Lamp(ident.lamp_id, ident.devaddr, ident.key, kind=ident.profile, site="bangui",
                                          district="Lakouanga", crew="nord", lat=4.3612 + 0.0004 * i, lon=18.556))
    conn = db.connect(settings.database)
    Users(conn).add("ops", PASSWORD, "engineer", 0)
    Users(conn).add("jean", PASSWORD, "crew", 0, "nord")
    conn.close()
    gw = threading.Thread(target=service.run, daemon=True)
    gw.start()
    assert service.ready.wait(10)
    url = f"http://127.0.0.1:{settings.api_port}"
    sink = GatedSink(broker.url, scenario.start_s + GATE_S)
    emulator = UpyEmulator(scenario, tmp_path / "lamps", sink)
    result: dict = {}
    run = threading.Thread(target=lambda: result.update(emulator.run()), daemon=True)

    def sql(query: str, args: tuple = ()) -> list[tuple]:
        c = db.connect(settings.database)
        try:
            return c.execute(query, args).fetchall()
        finally:
            c.close()

    try:
        op_ctx, overview = login(browser, url, "ops", {"width": 1280, "height": 800})
        overview.evaluate("window.stillTheSamePage = true")
        overview.wait_for_timeout(1200)  # the event stream's first state
        run.start()
        assert sink.held.wait(180), "the emulated fleet never reached 20:00"
        [(alert_id, fault)] = sql("SELECT id, fault FROM alerts WHERE state='firing'")
        assert fault == "lampFailure"
        expect(overview.locator("#live-alerts")).to_contain_text(f"#{alert_id} {faulty}", timeout=15_000)
        assert overview.evaluate("window.stillTheSamePage") is True
        overview.screenshot(path=str(shots / "live-overview-real-firmware-1280.png"), full_page=True)

        crew_ctx, phone = login(browser, url, "jean", {"width": 360, "height": 740})
        phone.goto("/alerts")
        phone.click(f"text=#{alert_id} {faulty}")
        phone.fill("form[action$='/ack'] input[name=comment]", "j'y vais")
        phone.click("form[action$='/ack'] button")
        expect(phone.locator("#alert-state")).to_have_text("prise en charge")
        phone.click(f"a[href='/lamps/{faulty}']")
        phone.click("text=LED remplacée")
        expect(phone.locator(".flash")).to_contain_text("Réparation notée")
        expect(phone.locator("#downlinks")).to_contain_text("en attente")

        sink.await_downlinks(faulty, 1)  # the lamp's next uplinks wait for the gateway's answer
        sink.release.set()
        run.join(300)
        assert not run.is_alive() and [lp["restarts"] for lp in result["lamps"]] == [0, 0], result
        sink.close()
        assert wait_for(lambda: sql("SELECT state, result FROM downlinks") == [("acked", "applied")], 30), \
            sql("SELECT * FROM downlinks")
        assert wait_for(lambda: sql("SELECT state, resolved_by FROM alerts WHERE id=?", (alert_id,)) ==
                        [("resolved", "gateway")], 30), sql("SELECT * FROM alerts")
        # the crew's open lamp page follows without a reload: the dlack and the resolution arrive live
        expect(phone.locator("#downlinks")).to_contain_text("confirmée", timeout=15_000)
        expect(phone.locator("#lamp-alerts")).to_contain_text("résolue", timeout=15_000)
        phone.screenshot(path=str(shots / "live-crew-lamp-real-firmware-360.png"), full_page=True)
        assert sql("SELECT count(*) FROM alerts WHERE lamp_id=?", (healthy,)) == [(0,)]
        acts = [r[0] for r in sql("SELECT action || ':' || actor FROM audit WHERE action NOT LIKE 'notify%' "
                                  "AND action != 'login' AND action NOT LIKE 'user-%' ORDER BY id")]
        assert acts == ["raise:gateway", "ack:jean", "repair-led_replaced:jean", "resolve:gateway"], acts
        op_ctx.close()
        crew_ctx.close()
    finally:
        sink.release.set()
        service.stopping.set()
        gw.join(20)
        broker.stop()
