# Emulated-lamp extension of the unix port's built-in `os` (first on the path; never copied to a lamp).
# The lamp directory is mounted at "/" as a native os.VfsPosix (imports and reads cost no Python code,
# so the lamp's heap looks like a bare interpreter's). This module only fixes what differs on a board:
# - rename(): VfsPosix(root) joins both paths in one shared buffer, so rename(a, b) with two absolute
#   paths became rename(b, b) -> ENOENT; the old path is passed relative to the real working directory.
# - ilistdir() gives LittleFS's (name, type, inode, size); statvfs() reports the lamp's flash size in
#   4 KiB blocks, and open() for writing raises OSError(ENOSPC) when that flash is full.
import sys

_self = sys.modules.pop("os")
_saved_path = sys.path[:]
sys.path[:] = []
try:
    import os as _os  # with nothing on the path this finds the built-in module
finally:
    sys.path[:] = _saved_path
    sys.modules["os"] = _self
for _name in dir(_os):
    if not _name.startswith("__"):
        globals()[_name] = getattr(_os, _name)
del _self, _saved_path, _name

_BLOCK = 4096
_blocks_total = 0
_used = None  # blocks in use, counted lazily


def _rel(path):
    if not path.startswith("/"):
        return path
    cwd = [s for s in _os.getcwd().split("/") if s]
    target = [s for s in path.split("/") if s]
    i = 0
    while i < len(cwd) and i < len(target) and cwd[i] == target[i]:
        i += 1
    return "/".join([".."] * (len(cwd) - i) + target[i:]) or "."


def _changed():
    global _used
    _used = None


def rename(old, new):
    _os.rename(_rel(old), new)
    _changed()


def remove(path):
    _os.remove(path)
    _changed()


def rmdir(path):
    _os.rmdir(path)
    _changed()


def mkdir(path):
    if _blocks_total and _free_blocks() < 2:
        raise OSError(28)
    _os.mkdir(path)
    _changed()


def ilistdir(path="."):
    base = path.rstrip("/") + "/"
    for entry in _os.ilistdir(path):
        yield (entry[0], entry[1], 0, 0 if entry[1] == 0x4000 else _os.stat(base + entry[0])[6])


def _count(path):
    n = 2  # a LittleFS directory is a metadata pair
    for entry in _os.ilistdir(path):
        child = path.rstrip("/") + "/" + entry[0]
        n += _count(child) if entry[1] == 0x4000 else (_os.stat(child)[6] + _BLOCK - 1) // _BLOCK
    return n


def _free_blocks():
    global _used
    if _used is None:
        _used = _count("/")
    return _blocks_total - _used


def statvfs(path):
    if not _blocks_total:
        return _os.statvfs(path)
    free = _free_blocks()
    return (_BLOCK, _BLOCK, _blocks_total, free, free, 0, 0, 0, 0, 255)


def limit(capacity):
    """Emulate a flash of `capacity` bytes (called by lampboot.py)."""
    global _blocks_total
    _blocks_total = capacity // _BLOCK
    import builtins
    import io

    builtin_open = builtins.open

    class _Writer(io.IOBase):
        def __init__(self, f, size):
            self._f = f
            self._size = size

        def write(self, data):
            global _used
            grow = (self._size + len(data) + _BLOCK - 1) // _BLOCK - (self._size + _BLOCK - 1) // _BLOCK
            if grow and _free_blocks() < grow:
                raise OSError(28)
            n = self._f.write(data)
            self._size += len(data)
            if _used is not None:
                _used += grow
            return n

        def readinto(self, buf):
            return self._f.readinto(buf)

        def read(self, *args):
            return self._f.read(*args)

        def seek(self, *args):
            return self._f.seek(*args)

        def tell(self):
            return self._f.tell()

        def flush(self):
            return self._f.flush()

        def close(self):
            self._f.close()

        def ioctl(self, op, arg):
            if op == 4:  # MP_STREAM_CLOSE
                self._f.close()
            return 0

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._f.close()

    def open_limited(path, mode="r", *args, **kwargs):
        f = builtin_open(path, mode, *args, **kwargs)
        if "r" in mode and "+" not in mode:
            return f
        _changed()  # "w" truncated the file
        try:
            size = _os.stat(path)[6]
        except OSError:
            size = 0
        return _Writer(f, size)

    builtins.open = open_limited


def mount_lamp(root, capacity):
    """Make the host directory `root` the lamp's "/"."""
    vfs = _os.VfsPosix(root)
    _os.umount("/")
    _os.mount(vfs, "/")
    _os.chdir("/")
    if capacity:
        limit(capacity)
