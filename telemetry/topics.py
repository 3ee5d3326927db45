"""MQTT topic names shared by lamps, emulator, bridge and gateway.

    <prefix>/<lamp_id>/up       frames from the lamp (binary)
    <prefix>/<lamp_id>/down     frames to the lamp (binary)
    <prefix>/<lamp_id>/status   "online"/"offline" birth and last will (retained)
    <prefix>/alerts/<lamp_id>   alerts raised and resolved by the gateway (JSON)

One subtree per lamp lets the broker's ACL confine a lamp to its own topics.
"""
PREFIX = "lampfleet"
_ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."


def valid_lamp_id(lamp_id):
    if not 1 <= len(lamp_id) <= 32 or lamp_id == "alerts":
        return False
    for ch in lamp_id:
        if ch not in _ID_CHARS:
            return False
    return True


def uplink(lamp_id, prefix=PREFIX):
    return prefix + "/" + lamp_id + "/up"


def downlink(lamp_id, prefix=PREFIX):
    return prefix + "/" + lamp_id + "/down"


def status(lamp_id, prefix=PREFIX):
    return prefix + "/" + lamp_id + "/status"


def alert(lamp_id, prefix=PREFIX):
    return prefix + "/alerts/" + lamp_id


def parse(topic, prefix=PREFIX):
    """Return (lamp_id, kind) for a lamp topic, or None when the topic is not one of ours."""
    parts = topic.split("/")
    if len(parts) != 3 or parts[0] != prefix or parts[2] not in ("up", "down", "status"):
        return None
    if not valid_lamp_id(parts[1]):
        return None
    return parts[1], parts[2]
