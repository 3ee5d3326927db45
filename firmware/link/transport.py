"""The one interface every link transport offers the lamp (duck-typed, like the HAL):

    connected() -> bool            can send() be tried now? (LoRa: always; MQTT: a live session)
    send(frame, now_ms) -> bool    put one frame on the link. True means it left the lamp, and when
                                   `confirms` is True also that the far end took charge of it (the
                                   emulator's board bus); False: not sent, keep it queued.
    poll() -> list of bytes        downlink frames received since the last call (LoRa: in the receive
                                   window that follows each uplink; MQTT: on lampfleet/<id>/down)
    confirms                       True when send()'s True is a delivery receipt; False when delivery is
                                   learnt from the gateway's acknowledging downlink (LoRa, MQTT)
    airtime_us(n) -> int           time on air of an n-byte frame (0 for MQTT)
    wait_ms(n, now_ms) -> int      how long before an n-byte frame may be sent (EU868 duty cycle; 0 for MQTT)
    service(now_ms)                keep-alive and reconnection; called every loop, never blocks for long

Implementations: lora_transport.LoraTransport (micropython-lib `lora` modem API), mqtt_transport.MqttTransport
(umqtt.simple2), MemoryTransport below (tests, fleet emulator) and HalTransport (a HAL that owns the radio).
"""


class MemoryTransport:
    """A transport in memory: `up` switches the link, `sent` records what got through, `inbox` feeds
    downlinks. `confirms` as chosen (True behaves like MQTT, False like LoRa with `ack_with`)."""

    def __init__(self, confirms=True, airtime_us=0, ack_with=None):
        self.confirms = confirms
        self.up = True
        self.sent = []
        self.inbox = []
        self._airtime_us = airtime_us
        self.ack_with = ack_with  # callable(frame) -> list of downlink frames, for LoRa-like use

    def connected(self):
        return self.up

    def send(self, frame, now_ms=0):
        if not self.up:
            return False
        self.sent.append((now_ms, bytes(frame)))
        if self.ack_with is not None:
            self.inbox.extend(self.ack_with(bytes(frame)))
        return True

    def poll(self):
        out = self.inbox
        self.inbox = []
        return out

    def airtime_us(self, n):
        return self._airtime_us

    def wait_ms(self, n, now_ms):
        return 0

    def service(self, now_ms):
        pass


class HalTransport:
    """For a HAL that owns the link (the emulator's board bus today): `hal.radio_send(frame)` returns False
    when the frame did not go (anything else counts as delivered), and `hal.radio_poll()`, when the HAL
    has it, returns received downlinks."""

    confirms = True

    def __init__(self, hal):
        self.hal = hal

    def connected(self):
        return True

    def send(self, frame, now_ms=0):
        return self.hal.radio_send(frame) is not False

    def poll(self):
        poll = getattr(self.hal, "radio_poll", None)
        return poll() if poll else []

    def airtime_us(self, n):
        return 0

    def wait_ms(self, n, now_ms):
        return 0

    def service(self, now_ms):
        pass
