"""Run on the MicroPython unix port by test_broker_lamp_tls.py (not a test):

    micropython upy_tls_lamp.py CONFIG_JSON FRAME_HEX

Connects with the lamp config's "mqtt" section exactly as the ESP32 HAL does (firmware/hal/mqtt_config.py
-> umqtt.simple2, TLS with the provisioned CA), publishes one frame at QoS 1 on its uplink topic and prints
{"published": true} or {"error": "..."}.
"""
import json
import sys
from binascii import unhexlify

from firmware.hal.mqtt_config import transport_args
from umqtt.simple2 import MQTTClient

cfg = json.loads(open(sys.argv[1]).read())
try:
    args = transport_args(cfg["lamp_id"], cfg["mqtt"])
    client = MQTTClient(cfg["lamp_id"].encode(), args["server"], port=args["port"], user=args["user"],
                        password=args["password"], keepalive=10, ssl=args["ssl"], ssl_params=args["ssl_params"],
                        socket_timeout=5, message_timeout=5)
    client.connect(clean_session=False)
    client.publish(("lampfleet/%s/up" % cfg["lamp_id"]).encode(), unhexlify(sys.argv[2]), qos=1)
    client.disconnect()
    print(json.dumps({"published": True}))
except Exception as e:  # noqa: BLE001 - reported to the test
    print(json.dumps({"error": repr(e)}))
