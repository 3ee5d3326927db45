# Start-up script of an emulated lamp (run by `micropython -i`, so the REPL follows it like on a board).
# The supervisor in emulator/console.py sets LAMPFLEET_* variables and reads the two APC markers this
# prints (ESC _ ... ESC \, which terminals ignore): "ready" = Ctrl-C may now be sent, "repl" = the REPL
# starts next. Like ports/esp32/main.c: mount the filesystem, run /boot.py, then /main.py unless the
# reset came from the raw REPL.
import os  # the shim next to this file (upy_shim/os.py), which extends the built-in
import sys

# Calibrated so that gc.mem_free() at the start of main.py equals a bare `micropython -X heapsize=N`
# running main.py, within a few hundred bytes (emulator/tests/test_console.py checks it).
BARE_ALLOC = 664

def _lampfleet_boot(g):
    import machine  # noqa: F401  (the shims next to this file; cached before "/" is remounted)

    rom = os.getenv("LAMPFLEET_ROM")
    if rom:
        import romvfs as vfs  # maps the ROMFS partition, opens its file before "/" is remounted

        sys.modules["vfs"] = vfs
    os.mount_lamp(os.getenv("LAMPFLEET_LAMP_DIR"), int(os.getenv("LAMPFLEET_FS_BYTES") or "0"))
    sys.path[:] = ["", ".frozen", "/lib"]
    if rom:
        try:  # as the port does at boot: a valid image is mounted at /rom, ahead of /lib
            vfs.mount(vfs.VfsRom(vfs.rom_ioctl(2, 0)), "/rom")
            sys.path.insert(2, "/rom")
        except OSError:
            pass  # erased or half-written: the lamp runs what /lib holds
    # The heap was made LAMPFLEET_HEAP_EXTRA larger than the lamp's; fill what this emulation layer did not
    # use with ballast, so main.py finds as much free heap as under a bare `micropython -X heapsize=N`.
    import gc

    gc.collect()
    spare = int(os.getenv("LAMPFLEET_HEAP_EXTRA") or "0") - (gc.mem_alloc() - BARE_ALLOC)
    if spare > 64:
        machine._ballast = bytearray(spare - 48)
    gc.collect()
    mode = os.getenv("LAMPFLEET_BOOT") or "main"
    sys.stdout.write("\x1b_lampfleet:ready\x1b\\")
    try:
        for name in ("boot.py", "main.py"):
            if name == "main.py" and mode != "main":
                break
            try:
                os.stat("/" + name)
            except OSError:
                continue
            with open("/" + name) as f:
                code = f.read()
            code = compile(code, name, "exec")  # the source string is garbage before main.py runs
            try:
                exec(code, g)
            except SystemExit:
                raise
            except BaseException as e:  # noqa: BLE001 - a board prints the traceback and goes on to the REPL
                sys.print_exception(e)
            code = None
    except KeyboardInterrupt as e:
        sys.print_exception(e)
    sys.stdout.write("\x1b_lampfleet:repl\x1b\\")


_lampfleet_boot(globals())
del _lampfleet_boot
