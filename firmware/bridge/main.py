"""Entry point of the bridge role: `import firmware.bridge.main; firmware.bridge.main.main()` from the
board's main.py, or on the unix port `micropython -m firmware.bridge.main bridge.json` with the serial
line on stdin/stdout.

bridge.json:
    {"radio": {"freq_khz": 868100, "sf": 9, ...},              settings over lora_transport.DEFAULT_CFG
     "modem": "sx1276" | "sx1262" | "net:HOST:PORT",           the chip, or the emulator's radio hub
     "pins": {"spi": 1, "sck": 5, "mosi": 27, "miso": 19, "cs": 18, "dio0": 26, "dio1": 33, "reset": 14,
              "busy": 32}}                                      chip wiring (ESP32 boards)

The serial line is the USB console: keyboard interrupt is switched off so that a 0x03 byte in a frame
cannot stop the program, and nothing else may print to stdout.
"""
import json
import select
import sys

from firmware.bridge.bridge import Bridge


def make_modem(conf):
    kind = conf.get("modem", "sx1276")
    if kind.startswith("net:"):
        from firmware.link.net_modem import NetModem

        _, host, port = kind.split(":")
        return NetModem(host, int(port), "bridge")
    from machine import SPI, Pin

    p = conf.get("pins", {})
    spi = SPI(p.get("spi", 1), baudrate=2000000, sck=Pin(p["sck"]), mosi=Pin(p["mosi"]), miso=Pin(p["miso"]))
    cs = Pin(p["cs"], Pin.OUT, value=1)
    reset = Pin(p["reset"], Pin.OUT, value=1) if "reset" in p else None
    if kind == "sx1262":
        from lora import SX1262

        return SX1262(spi, cs, busy=Pin(p["busy"]), dio1=Pin(p["dio1"]), reset=reset)
    from lora import SX1276

    return SX1276(spi, cs, dio0=Pin(p["dio0"]), dio1=Pin(p["dio1"]) if "dio1" in p else None, reset=reset)


def serial_io():
    stdin = sys.stdin.buffer
    stdout = sys.stdout.buffer
    poller = select.poll()
    poller.register(sys.stdin, select.POLLIN)

    def read(limit=256):
        data = bytearray()
        while len(data) < limit and poller.poll(0):
            b = stdin.read(1)
            if not b:
                raise OSError("serial line closed")
            data.extend(b)
        return bytes(data)

    def write(data):
        stdout.write(data)

    return read, write


def main(config_path="bridge.json"):
    with open(config_path) as f:
        conf = json.load(f)
    try:
        import micropython

        micropython.kbd_intr(-1)
    except (ImportError, AttributeError):
        pass
    read, write = serial_io()
    Bridge(make_modem(conf), read, write, conf.get("radio")).run()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bridge.json")
