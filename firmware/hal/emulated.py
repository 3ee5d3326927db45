"""HAL for the lamp emulator: sensors, LED, radio and time come from the emulator over a board bus."""
# The bus is one TCP connection to the emulator (address in board.json), one JSON line per request. Time
# is virtual: `sleep_ms` returns when the emulator has advanced the simulated world, which may take
# microseconds of wall time for an hour of lamp time. Outputs are sent with the next `sleep_ms`, so one
# simulated sample costs one round trip; a frame costs one more, whose answer says whether the network
# took it (emulator/network.py) and carries the downlinks waiting for the lamp. A lamp on the 32-bit
# webassembly interpreter has no sockets: its bus is a character device (a path, emulator/wasm/lamp.mjs)
# carrying the same lines.
import json

import binascii


class EmulatedHal:
    def __init__(self, board):
        if board["bus"].startswith("/"):
            self._sock = open(board["bus"], "r+b")
        else:
            import socket

            host, port = board["bus"].split(":")
            self._sock = socket.socket()
            self._sock.connect(socket.getaddrinfo(host, int(port))[0][-1])
        # The firmware's loop is driven by the host, one App.tick() per call (emulator/wasm/lamp.mjs).
        self.host_loop = board.get("loop") == "host"
        self._led_pct = 0
        self._down = []
        reply = self._call({"op": "hello", "lamp": board.get("lamp", "")})
        self._reset_cause = reply.get("reset_cause", "power_on")
        self._readings = reply["readings"]
        self._now_ms = reply["t_ms"]

    def _call(self, request):
        self._sock.write(json.dumps(request).encode() + b"\n")
        line = self._sock.readline()
        if not line:
            raise OSError("board bus closed")
        return json.loads(line)

    def reset_cause(self):
        return self._reset_cause

    def now_ms(self):
        return self._now_ms

    def set_time_ms(self, t_ms):
        reply = self._call({"op": "set_time", "t_ms": t_ms})
        self._now_ms = reply["t_ms"]

    def read_inputs(self):
        return self._readings

    def set_led(self, pct):
        self._led_pct = pct

    def radio_send(self, frame):
        """True when the network took the frame (firmware/link/transport.py: HalTransport)."""
        reply = self._call({"op": "tx", "frame": binascii.hexlify(frame).decode()})
        self._down.extend(reply.get("down", ()))
        return reply["ok"]

    def radio_poll(self):
        out = [binascii.unhexlify(d) for d in self._down]
        self._down = []
        return out

    def sleep_ms(self, ms, wake=None):
        """Sleep up to ms; the emulator ends it early where a reading leaves its `wake` band."""
        reply = self._call({"op": "sleep", "ms": ms, "led_pct": self._led_pct, "wake": wake})
        self._now_ms = reply["t_ms"]
        self._readings = reply["readings"]

    def feed_watchdog(self):
        pass  # the emulator restarts a lamp whose process dies; a hung loop shows as a stalled clock

    def log(self, msg):
        print(msg)
