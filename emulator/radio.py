"""Emulated LoRa channel for fleet tests: loss, collisions, duty cycle. Seeded, deterministic.

`Channel` is pure and works on whatever clock the caller uses (the emulator's virtual time):

    ch = Channel(loss=0.2, seed=7)
    tx = ch.transmit("LAMP-0001", t_us, 868100, 9, payload)     # airtime from firmware/link/airtime.py
    for rx in ch.deliver("gw", until_us=t_us + 10**6, freq_khz=868100, sf=9): ...

A packet reaches a listener when it does not overlap in time with another packet on the same frequency
and spreading factor (different spreading factors are treated as orthogonal), unless it is at least
`capture_db` stronger than every packet it overlaps (the capture effect), and when the seeded loss draw
for that (packet, listener) pair spares it. Each sender's EU868 duty cycle is accounted: a transmission
that starts inside its sub-band's off-time is still sent but counted in `violations` (the lamp's firmware
is supposed to prevent it; the emulator reports it). `deliver()` must only be asked for times every
sender has reached, or a later-starting overlap would be missed, and transmissions must be given in
time order (to within 15 s); transmissions are forgotten `keep_us`
(an hour) after the latest time asked for.

`RadioHub` puts a Channel behind a TCP socket in real time, for lamps and bridges running on the
MicroPython unix port with firmware/link/net_modem.py (protocol described there).
"""
from __future__ import annotations

import binascii
import json
import random
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, cast

from firmware.link.airtime import time_on_air_us
from firmware.link.dutycycle import DutyCycle


@dataclass
class Transmission:
    id: int
    sender: str
    start_us: int
    end_us: int
    freq_khz: int
    sf: int
    bw_hz: int
    payload: bytes
    rssi_dbm: int = -100
    snr_db: int = 5
    collided: bool = False
    delivered_to: set[str] = field(default_factory=set)


MAX_AIRTIME_US = 15_000_000  # longer than any packet: 255 bytes at SF12/125 kHz take 9.8 s


class Channel:
    def __init__(self, loss: float = 0.0, seed: int = 0, capture_db: int = 6, keep_us: int = 3_600_000_000):
        if not 0.0 <= loss < 1.0:
            raise ValueError("loss must be in [0, 1)")
        self.loss = loss
        self.seed = seed
        self.capture_db = capture_db
        self.keep_us = keep_us
        self.txs: list[Transmission] = []
        self._next_id = 0
        self._duty: dict[str, DutyCycle] = {}
        self.violations: dict[str, int] = {}
        self.stats = {"sent": 0, "collided": 0, "lost": 0, "delivered": 0}

    def airtime_us(self, n: int, sf: int, bw_hz: int = 125000) -> int:
        return time_on_air_us(n, sf, bw_hz)

    def transmit(self, sender: str, t_us: int, freq_khz: int, sf: int, payload: bytes, bw_hz: int = 125000,
                 rssi_dbm: int = -100, snr_db: int = 5) -> Transmission:
        toa = self.airtime_us(len(payload), sf, bw_hz)
        duty = self._duty.setdefault(sender, DutyCycle())
        if duty.wait_ms(freq_khz, t_us // 1000):
            self.violations[sender] = self.violations.get(sender, 0) + 1
        duty.record(freq_khz, t_us // 1000, toa)
        tx = Transmission(self._next_id, sender, t_us, t_us + toa, freq_khz, sf, bw_hz, bytes(payload),
                          rssi_dbm, snr_db)
        self._next_id += 1
        for other in reversed(self.txs):
            if other.start_us < tx.start_us - MAX_AIRTIME_US:
                break  # older ones ended before this one started (transmissions come in time order)
            if (other.freq_khz == freq_khz and other.sf == sf and other.start_us < tx.end_us
                    and tx.start_us < other.end_us):
                if other.rssi_dbm - tx.rssi_dbm < self.capture_db:
                    other.collided = True  # unless it is strong enough to capture the receiver
                if tx.rssi_dbm - other.rssi_dbm < self.capture_db:
                    tx.collided = True
        self.txs.append(tx)
        self.stats["sent"] += 1
        return tx

    def _lost(self, tx: Transmission, listener: str) -> bool:
        if not self.loss:
            return False
        return random.Random(f"{self.seed}:{tx.id}:{listener}").random() < self.loss

    def deliver(self, listener: str, until_us: int, freq_khz: int | None = None, sf: int | None = None,
                since_us: int | None = None) -> list[Transmission]:
        """Packets that ended by until_us and reach `listener` (tuned to freq_khz/sf when given, listening
        since since_us when given); each is delivered to a listener once."""
        out = []
        for tx in self.txs:
            if tx.end_us > until_us or listener in tx.delivered_to or tx.sender == listener:
                continue
            if freq_khz is not None and tx.freq_khz != freq_khz or sf is not None and tx.sf != sf:
                continue
            if since_us is not None and tx.start_us < since_us:
                continue
            tx.delivered_to.add(listener)
            if tx.collided:
                self.stats["collided"] += 1
            elif self._lost(tx, listener):
                self.stats["lost"] += 1
            else:
                self.stats["delivered"] += 1
                out.append(tx)
        self.txs = [t for t in self.txs if t.end_us > until_us - self.keep_us]
        return out


class RadioHub:
    """A Channel in real time behind TCP (JSON lines): see firmware/link/net_modem.py for the protocol."""

    def __init__(self, loss: float = 0.0, seed: int = 0, host: str = "127.0.0.1", port: int = 0,
                 rssi_dbm: int = -90, snr_qdb: int = 28):
        self.channel = Channel(loss, seed)
        self.rssi_dbm = rssi_dbm
        self.snr_qdb = snr_qdb
        self._server = socket.create_server((host, port))
        self.port = self._server.getsockname()[1]
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._server, selectors.EVENT_READ)
        self._clients: dict[socket.socket, dict[str, Any]] = {}
        self._pending: list[tuple[int, socket.socket | None, Transmission]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="radio-hub", daemon=True)
        self.log: list[tuple[str, str, bytes]] = []  # (event, who, payload): "tx", "rx"
        self._virtual: dict[str, dict[str, int]] = {}

    def start(self) -> "RadioHub":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for s in list(self._clients):
            s.close()
        self._server.close()

    @staticmethod
    def _now_us() -> int:
        return time.monotonic_ns() // 1000

    def inject(self, sender: str, payload: bytes, freq_khz: int = 868100, sf: int = 9) -> None:
        """A transmission from a virtual radio (tests): delivered to listeners when its airtime is over."""
        with self._lock:
            tx = self.channel.transmit(sender, self._now_us(), freq_khz, sf, payload)
            self._pending.append((tx.end_us, None, tx))
            self.log.append(("tx", sender, bytes(payload)))

    def listen(self, name: str, freq_khz: int = 869525, sf: int = 9) -> None:
        """A virtual receiver (tests): what it hears is logged, see heard_by()."""
        with self._lock:
            self._virtual[name] = {"freq_khz": freq_khz, "sf": sf, "since": self._now_us()}

    def heard_by(self, name: str) -> list[bytes]:
        return [p for ev, who, p in self.log if ev == "rx" and who == name]

    def _send(self, sock: socket.socket, obj: dict[str, Any]) -> None:
        try:
            sock.sendall(json.dumps(obj).encode() + b"\n")
        except OSError:
            pass

    def _handle(self, sock: socket.socket, msg: dict[str, Any]) -> None:
        c = self._clients[sock]
        op = msg.get("op")
        if op == "hello":
            c["name"] = msg.get("name", c["name"])
        elif op == "config":
            c.update(freq_khz=msg["freq_khz"], sf=msg["sf"], bw_hz=msg.get("bw_hz", 125000))
        elif op == "rx":
            c["rx"] = bool(msg.get("on"))
            c["rx_since"] = self._now_us()
        elif op == "tx":
            payload = binascii.unhexlify(msg["data"])
            with self._lock:
                tx = self.channel.transmit(c["name"], self._now_us(), c["freq_khz"], c["sf"], payload, c["bw_hz"])
                self._pending.append((tx.end_us, sock, tx))
                self.log.append(("tx", c["name"], payload))

    def _finish_due(self) -> None:
        now = self._now_us()
        with self._lock:
            due = [p for p in self._pending if p[0] <= now]
            self._pending = [p for p in self._pending if p[0] > now]
            for end_us, sender_sock, tx in due:
                if sender_sock is not None and sender_sock in self._clients:
                    self._send(sender_sock, {"op": "tx_done", "airtime_us": tx.end_us - tx.start_us})
                for sock, c in self._clients.items():
                    if sock is sender_sock or not c["rx"] or c["freq_khz"] != tx.freq_khz or c["sf"] != tx.sf:
                        continue
                    for got in self.channel.deliver(c["name"], end_us, tx.freq_khz, tx.sf, c["rx_since"]):
                        self.log.append(("rx", c["name"], got.payload))
                        self._send(sock, {"op": "rx", "data": got.payload.hex(), "rssi": self.rssi_dbm,
                                          "snr": self.snr_qdb})
                for name, v in self._virtual.items():
                    if v["freq_khz"] == tx.freq_khz and v["sf"] == tx.sf:
                        for got in self.channel.deliver(name, end_us, tx.freq_khz, tx.sf, v["since"]):
                            self.log.append(("rx", name, got.payload))

    def _run(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._sel.select(timeout=0.005):
                if key.fileobj is self._server:
                    sock, _ = self._server.accept()
                    self._clients[sock] = {"name": f"radio-{len(self._clients)}", "buf": b"", "rx": False,
                                           "rx_since": 0, "freq_khz": 868100, "sf": 7, "bw_hz": 125000}
                    self._sel.register(sock, selectors.EVENT_READ)
                    continue
                sock = cast(socket.socket, key.fileobj)
                try:
                    chunk = sock.recv(4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    self._sel.unregister(sock)
                    self._clients.pop(sock, None)
                    sock.close()
                    continue
                c = self._clients[sock]
                c["buf"] += chunk
                while b"\n" in c["buf"]:
                    line, c["buf"] = c["buf"].split(b"\n", 1)
                    if line.strip():
                        self._handle(sock, json.loads(line))
            self._finish_due()
