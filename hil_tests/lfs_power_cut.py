# MicroPython program (not a pytest module): the firmware's state and counter writes on a real LittleFS
# (os.VfsLfs2, the ESP32 port's filesystem, same C code) over a flash that loses power at every program
# or erase operation in turn. Run by hil_tests/test_power_cut.py with MICROPYPATH at the repository root;
# prints one JSON line: per file and per cut model, how many cut points left the old file, the new one,
# or anything else, and whether the next boot's write worked.
#
# Flash model (NOR, as the ESP32's SPI flash): 4 KiB erase blocks; a cut lets none or half of the
# operation in progress land (a half-programmed page, a half-erased block) and nothing after it. After
# each cut the filesystem is mounted again from what the flash holds, as at the next boot.
import json
import os

from firmware.shell import persist
from firmware.shell.counter import FrameCounter

BS = 4096
NB = 32  # a 128 KiB partition is enough for the lamp's files; littlefs needs a few spare blocks


class Flash:
    def __init__(self, data, budget=-1, landing=0.5):
        self.data = bytearray(data)
        self.budget = budget  # operations that complete before the cut (-1: never cut)
        self.landing = landing  # fraction of the interrupted operation that reaches the flash
        self.ops = 0

    def _landing(self, n):
        self.ops += 1
        if self.budget < 0 or self.ops <= self.budget:
            return n
        return int(n * self.landing) if self.ops == self.budget + 1 else 0

    def readblocks(self, block, buf, offset=0):
        a = block * BS + offset
        buf[:] = self.data[a:a + len(buf)]

    def writeblocks(self, block, buf, offset=0):
        a = block * BS + offset
        n = self._landing(len(buf))
        self.data[a:a + n] = buf[:n]

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return NB
        if op == 5:  # block size
            return BS
        if op == 6:  # erase
            n = self._landing(BS)
            self.data[arg * BS:arg * BS + n] = b"\xff" * n
            return 0
        return None


def mounted(flash):
    os.mount(os.VfsLfs2(flash), "/flash")
    os.chdir("/flash")


def unmount():
    os.chdir("/")
    os.umount("/flash")


def state(n):
    # about the size of a lamp's state.json (~1.5 KB), different content each time
    return {"learned": {"soc_uah": 1000 * n, "mids": [n] * 40, "pad": "x" * (1000 + 300 * n)},
            "boots": {"count": n, "crashes": 0}, "time_ms": 1780000000000 + n, "crashed": False}


def save_state(n):
    persist.Saver("state.json", 3600).save(n, state(n))  # the loop's saver (shell/app.py)


def save_in_two_steps(n):
    # Negative control: not how the firmware writes. A cut between the two sessions leaves half a file,
    # which shows this harness would see a torn state if the firmware ever wrote one.
    text = json.dumps(state(n))
    with open("state.json", "w") as f:
        f.write(text[:500])
    with open("state.json", "a") as f:
        f.write(text[500:])


def reserve():
    FrameCounter("fcnt.json")  # a boot: restarts at the saved reservation and reserves 32 more


def run(prepare, write, read, old, new, next_boot_ok, landing):
    base = Flash(b"\xff" * (BS * NB))
    os.VfsLfs2.mkfs(base)
    mounted(base)
    prepare()
    unmount()
    image = bytes(base.data)
    out = {"old": 0, "new": 0, "other": [], "ops": 0, "next_boot_ok": 0}
    k = 0
    while True:
        flash = Flash(image, k, landing)
        mounted(flash)
        try:
            write()
        except OSError:
            pass  # littlefs noticed the dead flash; on a lamp nothing runs any more
        unmount()
        boot = Flash(flash.data)
        mounted(boot)
        got = read()
        if got == old:
            out["old"] += 1
        elif got == new:
            out["new"] += 1
        else:
            out["other"].append([k, repr(got)[:60]])
        if next_boot_ok():  # the flash keeps working after the cut
            out["next_boot_ok"] += 1
        unmount()
        if k >= flash.ops:  # this run completed without a cut
            out["ops"] = flash.ops
            return out
        k += 1


def state_saved_again():
    save_state(3)
    return persist.load("state.json") == state(3)


def counter_not_behind():
    return FrameCounter("fcnt.json").value >= 32  # frames up to 31 may have been sent before the cut


results = {}
for landing in (0.0, 0.5):
    results["state.json@%g" % landing] = run(lambda: save_state(1), lambda: save_state(2),
                                             lambda: persist.load("state.json"), state(1), state(2),
                                             state_saved_again, landing)
    results["fcnt.json@%g" % landing] = run(reserve, reserve, lambda: persist.load("fcnt.json"),
                                            {"reserved": 32}, {"reserved": 64}, counter_not_behind, landing)
results["control@0.5"] = run(lambda: save_in_two_steps(1), lambda: save_in_two_steps(2),
                             lambda: persist.load("state.json"), state(1), state(2), lambda: True, 0.5)
print(json.dumps(results))
