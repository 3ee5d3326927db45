"""A running gateway with its console for the console tests: mosquitto, the gateway service on a thread
(ingest, detection, alerts, the web server), synthetic lamps publishing real encrypted frames, and one
user per role. Two sites and two crews, with coordinates for the street lamps and one safety kit."""
from __future__ import annotations

import re
import threading

import paho.mqtt.client as mqtt

from gateway import db
from gateway.console.users import Users
from gateway.service import GatewayService
from gateway.settings import Settings
from gateway.tests.receivers import wait_for
from gateway.tests.synth import Fleet
from lampfleet.broker import Mosquitto, free_port
from telemetry import encode, topics

PASSWORD = "correct horse battery"
USERS = {"admin": ("admin", ""), "ops": ("engineer", ""), "jean": ("crew", "nord"), "paul": ("crew", "sud"),
         "vera": ("viewer", "")}
# lamp index -> (site, district, crew, lat, lon); the last one is a household's kit: district only
PLACES = [("Lakouanga", "Lakouanga", "nord", 4.3612, 18.5560), ("Lakouanga", "Lakouanga", "nord", 4.3618, 18.5571),
          ("Lakouanga", "Lakouanga", "nord", 4.3625, 18.5583), ("Boy-Rabe", "Boy-Rabe", "sud", 4.3905, 18.5402),
          ("Boy-Rabe", "Boy-Rabe", "sud", 4.3911, 18.5415), ("", "Boy-Rabe", "sud", None, None)]


class ConsoleStack:
    def __init__(self, workdir):  # type: ignore[no-untyped-def]
        self.broker = Mosquitto(workdir / "broker").start()
        self.fleet = Fleet(len(PLACES), seed=12)
        for s, (site, district, crew, lat, lon) in zip(self.fleet.lamps, PLACES):
            s.lamp.site, s.lamp.district, s.lamp.crew, s.lamp.lat, s.lamp.lon = site, district, crew, lat, lon
        kit = self.fleet.lamps[-1]
        kit.lamp.kind = "kit"
        kit.lamp.lamp_id = "KIT-0001"
        self.kit = kit
        self.fleet.keys = {s.lamp_id: s.lamp.crypto() for s in self.fleet.lamps}
        self.settings = Settings(broker_url=self.broker.url, database=workdir / "gw.sqlite3", clock="device",
                                 grace_s=0, api_port=free_port())
        self.service = GatewayService(self.settings)
        for s in self.fleet.lamps:
            self.service.gateway.registry.add(s.lamp)
        conn = db.connect(self.settings.database)
        for name, (role, crew) in USERS.items():
            Users(conn).add(name, PASSWORD, role, 0, crew)
        conn.close()
        self.thread = threading.Thread(target=self.service.run, daemon=True)
        self.thread.start()
        assert self.service.ready.wait(10)
        self.url = f"http://127.0.0.1:{self.settings.api_port}"
        self.pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="console-test-lamps")
        self.pub.connect("127.0.0.1", self.broker.port)
        self.pub.loop_start()

    def step(self, n: int = 1) -> None:
        """n status intervals of every lamp, published and waited for until stored."""
        for _ in range(n):
            for s, frame in self.fleet.step():
                self.pub.publish(topics.uplink(s.lamp_id), self.fleet.encoded(s, frame), qos=1).wait_for_publish(5)
        target = {s.lamp_id: s.fcnt - 1 for s in self.fleet.lamps}
        assert wait_for(lambda: self._stored(target), 20), target

    def _stored(self, target: dict[str, int]) -> bool:
        conn = db.connect(self.settings.database)
        try:
            got = dict(conn.execute("SELECT lamp_id, last_fcnt FROM lamps").fetchall())
        finally:
            conn.close()
        return all((got.get(k) or -1) >= v for k, v in target.items())

    def dlack(self, index: int, dl_id: int, result: str = "applied") -> None:
        """Lamp `index` answers downlink dl_id (as the firmware does after applying it)."""
        s = self.fleet[index]
        frame = encode("dlack", s.lamp.devaddr, s.next_fcnt(), self.fleet.keys[s.lamp_id],
                       {"time_s": self.fleet.t, "dl_id": dl_id, "result": result})
        self.pub.publish(topics.uplink(s.lamp_id), frame, qos=1).wait_for_publish(5)

    def sql(self, query: str, args: tuple = ()) -> list[tuple]:
        conn = db.connect(self.settings.database)
        try:
            return conn.execute(query, args).fetchall()
        finally:
            conn.close()

    def close(self) -> None:
        self.pub.loop_stop()
        self.pub.disconnect()
        self.service.stopping.set()
        self.thread.join(20)
        self.broker.stop()


def login(browser, url: str, name: str, viewport):  # type: ignore[no-untyped-def]
    """A Chromium context logged in to the console at `url` as `name`; (context, page on the overview)."""
    ctx = browser.new_context(viewport=viewport, base_url=url, locale="fr-FR")
    page = ctx.new_page()
    page.goto("/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button")
    page.wait_for_url(re.compile(r".*/$"))
    return ctx, page
