"""A lamp's MQTT connection from its config's "mqtt" section: TLS on port 8883 unless told otherwise.

    "mqtt": {"server": "10.0.0.2", "wifi_ssid": "...", "wifi_password": "...",
             "user": "<lamp id>", "password": "...", "ca": "<base64 DER of the broker's CA>",
             "port": 8883, "tls": true}

Written by provisioning (tools/provision.py), with the password derived from the lamp's key and the CA
that `lampfleet broker-config --make-ca` made. `"tls": false` (plain port 1883) is for loopback labs
only: the password would cross the network in clear. The CA goes to mbedtls as DER (`cadata`):
MicroPython's ssl cannot parse a PEM string (mbedtls wants its terminating NUL). The broker's name or
address is checked against its certificate (`server_hostname`), so a lamp talks only to our broker.
Runs unchanged on MicroPython and CPython (the tests check the arguments on both).
"""
import sys
from binascii import a2b_base64


class MqttConfigError(ValueError):
    pass


def _ensure_ussl(ssl):
    # umqtt.simple2 does `import ussl`; MicroPython 1.2x builds provide only `ssl`.
    try:
        import ussl  # noqa: F401
    except ImportError:
        sys.modules["ussl"] = ssl


def transport_args(lamp_id, mqtt):
    """Keyword arguments for MqttTransport (server, port, user, password, ssl, ssl_params)."""
    server = mqtt.get("server")
    if not server:
        raise MqttConfigError("config mqtt: no 'server'")
    tls = mqtt.get("tls", True)
    args = {"server": server, "port": mqtt.get("port", 8883 if tls else 1883), "ssl": bool(tls),
            "ssl_params": None, "user": None, "password": None}
    if mqtt.get("password"):
        args["user"] = str(mqtt.get("user") or lamp_id).encode()
        args["password"] = str(mqtt["password"]).encode()
    if tls:
        if not mqtt.get("ca"):
            raise MqttConfigError("config mqtt: TLS needs the broker's CA ('ca'); re-provision the lamp "
                                  "with it, or set \"tls\": false on a loopback lab")
        import ssl

        _ensure_ussl(ssl)
        args["ssl_params"] = {"cert_reqs": ssl.CERT_REQUIRED, "cadata": a2b_base64(mqtt["ca"]),
                              "server_hostname": server}
    return args
