# Emulated-lamp extension of the unix port's built-in `vfs` (never copied to a lamp): a ROMFS partition
# behind `vfs.rom_ioctl`, as MicroPython 1.25+ ports offer one. Built-in `vfs` cannot be shadowed by a file,
# so lampboot.py registers this module as sys.modules["vfs"], which every later `import vfs` returns. The
# partition's bytes live outside the heap (emulator/rom.py maps them in the hosting process) and every
# write also goes to the backing file, so the image survives resets and power cuts as flash does. Erased
# flash reads 0xff.
import vfs as _vfs

for _name in dir(_vfs):
    if not _name.startswith("__"):
        globals()[_name] = getattr(_vfs, _name)
del _name

_ENODEV = -19
_EINVAL = -22
_BLOCK = 4096
_mem = None
_file = None


def _map():
    global _mem, _file
    import os
    import uctypes

    spec = os.getenv("LAMPFLEET_ROM")
    path = os.getenv("LAMPFLEET_ROM_FILE")
    if spec and path:
        address, size = [int(x) for x in spec.split(":")]
        _mem = uctypes.bytearray_at(address, size)
        _file = open(path, "r+b")  # opened before the lamp's directory becomes "/"


def _store(offset, data):
    _mem[offset:offset + len(data)] = data
    _file.seek(offset)
    _file.write(data)
    _file.flush()


def rom_ioctl(op, *args):
    if _mem is None:
        return 0 if op == 1 else _ENODEV
    if op == 1:  # number of partitions
        return 1
    if not args or args[0] != 0:
        return _ENODEV
    if op == 2:  # the partition's bytes
        return memoryview(_mem)
    if op == 3:  # prepare (erase) for writing: (id, length) or (id, offset, length)
        offset, length = (0, args[1]) if len(args) == 2 else (args[1], args[2])
        if offset < 0 or offset + length > len(_mem):
            return _EINVAL
        erased = b"\xff" * min(length, _BLOCK)
        for i in range(offset, offset + length, _BLOCK):
            _store(i, erased[:min(_BLOCK, offset + length - i)])
        return 4  # smallest write
    if op == 4:  # write (id, offset, data)
        offset, data = args[1], args[2]
        if offset < 0 or offset + len(data) > len(_mem):
            return _EINVAL
        _store(offset, data)
        return 0
    if op == 5:  # finish writing
        return 0
    if op == 6:  # erase block size
        return _BLOCK
    return _EINVAL


_map()
