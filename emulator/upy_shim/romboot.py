# Boot of an emulated lamp whose application is in ROMFS (emulator/rom.py): mount the mapped image at /rom
# and put it on sys.path, as the ESP32 port does with its `romfs` partition, then run the script.
import sys

sys.path[:] = ["", ".frozen", "/rom"]  # not this file's folder: its os/machine shims are for serial mode


def _mount_rom():
    import os
    import uctypes
    import vfs

    address, size = [int(x) for x in os.getenv("LAMPFLEET_ROM").split(":")]
    vfs.mount(vfs.VfsRom(uctypes.bytearray_at(address, size)), "/rom")


_mount_rom()
del _mount_rom
_script = sys.argv[1]
sys.argv[:] = sys.argv[1:]
with open(_script) as _f:
    _code = compile(_f.read(), _script, "exec")
del _f, _script
exec(_code)
