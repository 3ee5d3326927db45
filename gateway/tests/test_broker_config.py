"""`lampfleet broker-config` against a real mosquitto started with exactly the files it writes (auth, ACL,
TLS from its own CA): the gateway service ingests over TLS with its credentials, including LoRaWAN
integration uplinks; a lamp cannot publish as another nor read another's downlinks; integration users
reach only their own trees; anonymous clients, wrong passwords and a wrong CA are refused; nobody can take
over the gateway's client id and wipe its queued session."""
from __future__ import annotations

import base64
import json
import os
import re
import ssl
import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from click.testing import CliRunner

from gateway import db
from gateway.broker import config as broker_config
from gateway.broker.tls import make_ca
from gateway.cli.service import broker_config_command
from gateway.keystore import KeyStore
from gateway.link.acl import lamp_password
from gateway.registry import Lamp, Registry
from gateway.service import GatewayService
from gateway.settings import Settings, load
from gateway.tests.conftest import KEY, T0, Lamp1
from gateway.tests.receivers import wait_for
from gateway.tests.test_service_mqtt import Running
from lampfleet.broker import find_mosquitto, free_port, wait_for_port
from lampfleet.processes import stop_process
from telemetry import DeviceKey, encode

KEY2 = bytes(range(100, 116))
DEV_EUI = "70b3d57ed0000002"


class Deployment:
    """A registry, `lampfleet broker-config --make-ca`, and mosquitto run on the files it wrote."""

    def __init__(self, tmp_path: Path, lorawan: str = "chirpstack", plain_port: int = 0,
                 lamps: list[Lamp] | None = None):
        self.tmp = tmp_path
        self.db = tmp_path / "gw.sqlite3"
        conn = db.connect(self.db)
        registry = Registry(conn, KeyStore.open(str(self.db) + ".masterkey"))
        for lamp in lamps or [Lamp("LAMP-0001", 0x100001, KEY, site="bangui"),
                              Lamp("LAMP-0002", 0x100002, KEY2, site="bangui")]:
            registry.add(lamp)
        conn.close()
        self.toml = tmp_path / "gateway.toml"
        link = f'[link]\nlorawan = "{lorawan}"\nlorawan_devices = {{ "{DEV_EUI}" = "LAMP-0002" }}\n' if lorawan else ""
        self.base_toml = f'[gateway]\ndatabase = "{self.db}"\nclock = "device"\n{link}'
        self.toml.write_text(self.base_toml)
        self.out, self.port = tmp_path / "etc", free_port()
        args = ["--config", str(self.toml), "--out", str(self.out), "--make-ca", str(tmp_path / "ca"),
                "--host", "127.0.0.1", "--host", "localhost", "--port", str(self.port),
                "--data-dir", str(tmp_path / "data"), "--log-file", str(tmp_path / "mosquitto.log"),
                "--pid-file", "", "--json", "--plain-port", str(plain_port),
                *(["--run-as", "root"] if os.geteuid() == 0 else [])]
        result = CliRunner().invoke(broker_config_command, args, env={"LAMPFLEET_CONFIG": None})
        assert result.exit_code == 0, result.output
        self.report = json.loads(result.output)
        self.ca = self.out / "ca.crt"
        self.gateway_password = (self.out / "gateway.password").read_text().strip()
        self.gateway_user = self.report["gateway_user"]
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Deployment":
        (self.tmp / "data").mkdir(exist_ok=True)
        exe = find_mosquitto()
        assert exe, "apt-get install mosquitto"
        self.proc = subprocess.Popen([exe, "-c", str(self.out / "mosquitto.conf")])
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        stop_process(self.proc, 5)

    def gateway_toml(self) -> str:
        """The gateway's settings as docs/operations.md deploys it: TLS, its own login, the password in a file."""
        password_file = self.tmp / "gateway-mqtt.password"
        password_file.write_text(self.gateway_password + "\n")
        return self.base_toml.replace(
            "[gateway]\n", f'[gateway]\nbroker_url = "mqtts://127.0.0.1:{self.port}"\nmqtt_username = '
            f'"{self.gateway_user}"\nmqtt_password_file = "{password_file}"\nmqtt_ca_file = "{self.ca}"\n')

    def settings(self, **over) -> Settings:
        self.toml.write_text(self.gateway_toml())
        s = load(self.toml, env={})
        for k, v in over.items():
            setattr(s, k, v)
        return s


@pytest.fixture
def deployed(tmp_path):
    d = Deployment(tmp_path).start()
    yield d
    d.stop()


def client(d: Deployment, user=None, password=None, cid="", ca=None, clean=True, subscribe=None):
    """A paho client over TLS, its client id its login unless cid says otherwise; returns (client, result
    dict with rc, suback, and messages)."""
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid or user or f"t-{time.monotonic_ns()}",
                    protocol=mqtt.MQTTv311, clean_session=clean)
    c.tls_set(ca_certs=str(ca or d.ca))
    if user:
        c.username_pw_set(user, password)
    c.reconnect_delay_set(0.05, 0.1)
    res: dict = {"messages": []}
    subscribed = threading.Event()

    def on_connect(cl, u, flags, rc, p):
        res.setdefault("rc", rc)
        if subscribe and not rc.is_failure:
            cl.subscribe(subscribe, qos=1)

    def on_subscribe(cl, u, mid, rcs, p):
        res["suback"] = [r.value for r in rcs]
        subscribed.set()

    c.on_connect = on_connect
    c.on_subscribe = on_subscribe
    c.on_message = lambda cl, u, m: res["messages"].append((m.topic, bytes(m.payload)))
    c.connect("127.0.0.1", d.port)
    c.loop_start()
    wait_for(lambda: "rc" in res, 5)
    if subscribe and not res["rc"].is_failure:
        assert subscribed.wait(5)
    return c, res


def close(c) -> None:
    c.disconnect()
    c.loop_stop()


def lamp2_status(fcnt: int, t_s: int) -> bytes:
    fields = {"time_s": t_s, "vbat_mv": 13100, "ibat_ma": -2100, "led_ma": 830, "pv_mv": 300, "soc_pct": 70,
              "led_pct": 100, "temp_c": 26, "mode": "night", "faults": []}
    return encode("status", 0x100002, fcnt, DeviceKey(KEY2), fields)


def chirpstack_up(frame: bytes) -> bytes:
    return json.dumps({"deviceInfo": {"applicationId": "app-1", "devEui": DEV_EUI}, "fCnt": 1, "fPort": 10,
                       "data": base64.b64encode(frame).decode(),
                       "rxInfo": [{"gatewayId": "0016c001f0000001", "rssi": -101, "snr": 4.5}],
                       "txInfo": {"frequency": 868100000, "modulation": {"lora": {"spreadingFactor": 9}}}}).encode()


def test_generated_files_say_what_they_allow(tmp_path):
    d = Deployment(tmp_path)
    conf = (d.out / "mosquitto.conf").read_text()
    for line in ("allow_anonymous false", "persistence true", f"autosave_interval {broker_config.AUTOSAVE_S}",
                 f"listener {d.port}", "tls_version tlsv1.2",
                 f"plugin_opt_config_file {d.out.resolve() / 'dynamic-security.json'}"):
        assert line in conf.splitlines(), line
    assert "listener 1883" not in conf  # no plain listener unless asked, and then on loopback only
    doc = json.loads((d.out / "dynamic-security.json").read_text())
    assert doc["defaultACLAccess"] == {"publishClientSend": False, "publishClientReceive": False,
                                       "subscribe": False, "unsubscribe": True}
    logins = {c["username"]: c for c in doc["clients"]}
    assert sorted(logins) == ["LAMP-0001", "LAMP-0002", "chirpstack", "lampfleet-gateway"]
    assert all(c["clientid"] == name for name, c in logins.items())  # client ids bound to logins
    roles = {r["rolename"]: {(a["acltype"], a["topic"]) for a in r["acls"]} for r in doc["roles"]}
    assert roles["LAMP-0001"] == {("publishClientSend", "lampfleet/LAMP-0001/up"),
                                  ("publishClientSend", "lampfleet/LAMP-0001/status"),
                                  ("subscribeLiteral", "lampfleet/LAMP-0001/down"),
                                  ("publishClientReceive", "lampfleet/LAMP-0001/down")}
    assert {("subscribePattern", "application/+/device/+/event/up"),
            ("publishClientSend", "application/+/device/+/command/down")} <= roles["lampfleet-gateway"]
    assert {t for _, t in roles["chirpstack"]} == {"application/#"}
    text = (d.out / "dynamic-security.json").read_text()
    assert lamp_password(KEY) not in text and d.gateway_password not in text  # hashes only
    assert oct((d.out / "gateway.password").stat().st_mode & 0o777) == "0o600"
    assert oct((d.out / "dynamic-security.json").stat().st_mode & 0o777) == "0o640"
    # a second run (lamps added later) keeps every password and the CA
    before = d.gateway_password, (d.out / "chirpstack.password").read_text(), d.ca.read_bytes()
    Deployment.__init__(d, tmp_path)
    assert before == (d.gateway_password, (d.out / "chirpstack.password").read_text(), d.ca.read_bytes())


def test_certificates_from_elsewhere_and_no_certificates(tmp_path):
    d = Deployment(tmp_path)
    ext = make_ca(tmp_path / "ext", ["broker.example"])
    runner = CliRunner()
    base = ["--config", str(d.toml), "--pid-file", "", "--log-file", ""]
    res = runner.invoke(broker_config_command, [*base, "--out", str(tmp_path / "o1"), "--tls-cert", str(ext["cert"]),
                                                "--tls-key", str(ext["key"]), "--ca", str(ext["ca"])])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "o1" / "server.key").read_bytes() == ext["key"].read_bytes()
    assert oct((tmp_path / "o1" / "server.key").stat().st_mode & 0o777) == "0o640"
    res = runner.invoke(broker_config_command, [*base, "--out", str(tmp_path / "o2")])
    assert res.exit_code == 0 and "only a plain listener on 127.0.0.1" in res.output
    conf = (tmp_path / "o2" / "mosquitto.conf").read_text()
    assert "listener 1883 127.0.0.1" in conf and "certfile" not in conf and "log_dest" not in conf
    res = runner.invoke(broker_config_command, [*base, "--out", str(tmp_path / "o3"), "--tls-cert", str(ext["cert"])])
    assert res.exit_code != 0 and "go together" in res.output


def test_names_that_would_collide_or_leak_are_refused():
    base = dict(lamps={"chirpstack": "pw"}, gateway_user="gw", gateway_password="pw", integrations={"chirpstack": "x"})
    with pytest.raises(ValueError, match="used twice"):
        broker_config.check(broker_config.BrokerFiles(**base))
    plain = broker_config.BrokerFiles(lamps={}, gateway_user="gw", gateway_password="pw",
                                      listeners=[broker_config.Listener(1883, "0.0.0.0")])
    with pytest.raises(ValueError, match="in clear"):
        broker_config.check(plain)


def test_gateway_service_over_tls_with_its_credentials(deployed):
    s = deployed.settings()
    assert s.broker_tls and s.mqtt_client_id == deployed.gateway_user
    service = GatewayService(s)
    lamp1, received = Lamp1(), lambda: service.gateway.ingest.accepted
    l1, r1 = client(deployed, "LAMP-0001", lamp_password(KEY))
    cs, rcs = client(deployed, "chirpstack", (deployed.out / "chirpstack.password").read_text().strip())
    try:
        assert not r1["rc"].is_failure and not rcs["rc"].is_failure
        with Running(service):  # ready = its subscriptions, the LoRaWAN one included, were granted
            l1.publish("lampfleet/LAMP-0001/up", lamp1.status(T0), qos=1).wait_for_publish(5)
            assert wait_for(lambda: received() == 1)
            # LAMP-0001 replays a genuine LAMP-0002 frame on LAMP-0002's topic: the broker drops it
            l1.publish("lampfleet/LAMP-0002/up", lamp2_status(0, T0), qos=1)
            time.sleep(0.5)
            assert received() == 1 and sum(service.gateway.ingest.rejects.values()) == 0
            # the ChirpStack integration user's uplinks reach the gateway (its ACL has the LoRaWAN topics)
            cs.publish(f"application/app-1/device/{DEV_EUI}/event/up", chirpstack_up(lamp2_status(1, T0 + 60)),
                       qos=1).wait_for_publish(5)
            assert wait_for(lambda: service.gateway.lorawan is not None and received() == 2)
            assert service.gateway.radio_meta["LAMP-0002"]["via"] == "chirpstack"
    finally:
        close(l1)
        close(cs)


def test_anonymous_wrong_password_and_wrong_ca_are_refused(deployed, tmp_path, caplog):
    for user, password in ((None, None), ("LAMP-0001", lamp_password(KEY2)), (deployed.gateway_user, "guess")):
        c, res = client(deployed, user, password)
        assert res["rc"].is_failure, (user, res)
        close(c)
    other = make_ca(tmp_path / "other-ca", ["127.0.0.1"])
    with pytest.raises(ssl.SSLCertVerificationError):
        client(deployed, "LAMP-0001", lamp_password(KEY), ca=other["ca"])
    # and the gateway service with the wrong CA never gets a session
    service = GatewayService(deployed.settings(mqtt_ca_file=str(other["ca"])))
    t = threading.Thread(target=service.run, daemon=True)
    t.start()
    try:
        assert not service.ready.wait(2)
        assert "cannot connect to mqtts://127.0.0.1" in caplog.text
    finally:
        service.stopping.set()
        t.join(20)


def test_each_user_reaches_only_its_own_topics(deployed):
    gw, rgw = client(deployed, deployed.gateway_user, deployed.gateway_password, clean=True,
                     subscribe=[("lampfleet/#", 1), ("application/+/device/+/event/up", 1)])
    chirp_pw = (deployed.out / "chirpstack.password").read_text().strip()
    cs, rcs = client(deployed, "chirpstack", chirp_pw, subscribe=[("application/#", 1), ("lampfleet/#", 1)])
    l1, r1 = client(deployed, "LAMP-0001", lamp_password(KEY), subscribe=[("lampfleet/LAMP-0002/down", 1),
                                                                            ("lampfleet/LAMP-0001/down", 1)])
    l2, r2 = client(deployed, "LAMP-0002", lamp_password(KEY2), subscribe=[("lampfleet/LAMP-0002/down", 1)])
    try:
        # forbidden: a lamp writing another's topics or LoRaWAN's; the integration writing lamp topics
        for c, topic in ((l1, "lampfleet/LAMP-0002/up"), (l1, "lampfleet/LAMP-0002/status"),
                         (l1, "lampfleet/LAMP-0001/down"), (l1, f"application/app-1/device/{DEV_EUI}/event/up"),
                         (cs, "lampfleet/LAMP-0001/up")):
            c.publish(topic, b"forged", qos=1)
        l1.publish("lampfleet/LAMP-0001/up", b"mine", qos=1).wait_for_publish(5)
        l1.publish("lampfleet/LAMP-0001/status", b"online", qos=1, retain=True).wait_for_publish(5)
        cs.publish(f"application/app-1/device/{DEV_EUI}/event/up", b"lorawan", qos=1).wait_for_publish(5)
        gw.publish("lampfleet/LAMP-0002/down", b"for lamp 2", qos=1).wait_for_publish(5)
        gw.publish(f"application/app-1/device/{DEV_EUI}/command/down", b"lorawan down", qos=1).wait_for_publish(5)
        assert wait_for(lambda: len(rgw["messages"]) >= 3 and r2["messages"] and len(rcs["messages"]) >= 2)
        time.sleep(0.5)
        heard = sorted(m for m in rgw["messages"] if not m[0].endswith("/down"))  # less its own downlink
        assert heard == [(f"application/app-1/device/{DEV_EUI}/event/up", b"lorawan"),
                         ("lampfleet/LAMP-0001/status", b"online"), ("lampfleet/LAMP-0001/up", b"mine")]
        assert r2["messages"] == [("lampfleet/LAMP-0002/down", b"for lamp 2")]
        assert r1["suback"] == [0x80, 1] and r1["messages"] == []  # another lamp's downlinks: refused
        assert all(t.startswith("application/") for t, _ in rcs["messages"])  # lamp traffic never shown
    finally:
        for c in (gw, cs, l1, l2):
            close(c)


def test_nobody_can_take_over_the_gateways_session(deployed):
    """Item 6: a stranger with the gateway's client id and a clean start used to wipe its queue. Now each
    client id is bound to its login: anonymous clients and other logins (a lamp) naming the gateway's id
    are refused before its session is touched."""
    def gateway_session():
        return client(deployed, deployed.gateway_user, deployed.gateway_password, cid=deployed.gateway_user,
                      clean=False, subscribe=[("lampfleet/+/up", 1)])

    gw, _ = gateway_session()
    close(gw)
    l1, _ = client(deployed, "LAMP-0001", lamp_password(KEY))
    for i in range(20):
        l1.publish("lampfleet/LAMP-0001/up", b"%d" % i, qos=1).wait_for_publish(5)
    close(l1)
    for user, password in (("LAMP-0002", lamp_password(KEY2)), (None, None), ("LAMP-0002", "guess")):
        c, res = client(deployed, user, password, cid=deployed.gateway_user, clean=True)
        assert res["rc"].is_failure, user
        close(c)
    gw, res = gateway_session()
    try:
        assert wait_for(lambda: len(res["messages"]) == 20)
        assert [p for _, p in res["messages"]] == [b"%d" % i for i in range(20)]
    finally:
        close(gw)
    log = (deployed.tmp / "mosquitto.log").read_text()
    # and the broker listens on the TLS port only: no default listener opened behind our back
    assert set(re.findall(r"listen socket on port (\d+)", log)) == {str(deployed.port)}


def test_settings_validate_the_mqtt_login(tmp_path):
    from gateway.settings import SettingsError

    toml = tmp_path / "g.toml"
    cases = [
        ('mqtt_username = "gw"', "needs a password"),
        (f'mqtt_username = "gw"\nmqtt_password_file = "{tmp_path / "missing"}"', "cannot read"),
        (f'broker_url = "mqtt://10.0.0.2:1883"\nmqtt_username = "gw"', None),  # password from env below
        (f'mqtt_ca_file = "{tmp_path / "ca.crt"}"', "needs a TLS broker_url"),
        (f'broker_url = "mqtts://h:8883"\nmqtt_ca_file = "{tmp_path / "none.crt"}"', "cannot read"),
    ]
    for body, message in cases:
        toml.write_text(f"[gateway]\n{body}\n")
        env = {"LAMPFLEET_MQTT_PASSWORD": "pw"} if message is None else {}
        with pytest.raises(SettingsError, match=message or "in clear"):
            load(toml, env=env)
    toml.write_text('[gateway]\nbroker_url = "mqtts://broker.example"\nmqtt_username = "gw"\n')
    s = load(toml, env={"LAMPFLEET_MQTT_PASSWORD": "pw"})
    assert s.broker_host_port == ("broker.example", 8883) and s.mqtt_password == "pw" and "pw" not in repr(s)


def test_what_a_broker_stop_and_a_crash_keep(deployed):
    """docs/operations.md, "What a broker crash loses": a clean stop saves everything; a kill -9 loses what
    changed since the last save (frames the lamps still hold) and may hand back frames already delivered
    since then (duplicates, which the store ignores)."""
    def session():
        return client(deployed, deployed.gateway_user, deployed.gateway_password, cid=deployed.gateway_user,
                      clean=False, subscribe=[("lampfleet/+/up", 1)])

    def publish(numbers):
        lamp, _ = client(deployed, "LAMP-0001", lamp_password(KEY))
        for i in numbers:
            lamp.publish("lampfleet/LAMP-0001/up", b"%d" % i, qos=1).wait_for_publish(5)
        close(lamp)

    def received():
        gw, res = session()
        time.sleep(1.0)
        close(gw)
        return [int(p) for _, p in res["messages"]]

    gw, _ = session()
    close(gw)
    publish(range(5))
    deployed.stop()  # SIGTERM: mosquitto saves its database
    deployed.start()
    assert received() == [0, 1, 2, 3, 4]
    publish(range(5, 10))
    deployed.proc.kill()  # kill -9 before the next autosave
    deployed.proc.wait()
    deployed.start()
    # 5-9 are lost by the broker (the lamps resend them); 0-4, delivered after the last save, come again
    # (the store ignores them). Deterministic: the next autosave is AUTOSAVE_S after the restart.
    assert received() == [0, 1, 2, 3, 4]
