"""A tiny test runner for the tests shared by CPython and MicroPython (no pytest on the device).

    MICROPYPATH=. micropython lampfleet/upytest.py telemetry.tests.test_codec firmware.tests.test_x ...

Imports each module, runs its `test_*` functions in sorted order (`MODULE:test_name` runs that one only),
prints `PASS name` or
`FAIL name: error` (traceback on stderr), then exactly `N passed, M failed`; exits 1 if anything failed.
`-p DIR` puts DIR first on the import path (repeatable), e.g. a folder whose `machine.py` shadows the
built-in module. Plain-function tests only: no fixtures, no parametrisation, no skips.
Works on CPython too, which helps to tell a MicroPython difference from a broken test.
"""
import gc
import sys


def _print_exception(e):
    if hasattr(sys, "print_exception"):
        sys.print_exception(e, sys.stderr)  # MicroPython
    else:
        import traceback

        traceback.print_exception(type(e), e, e.__traceback__)


def _describe(e):
    text = str(e)
    return type(e).__name__ + (": " + text if text else "")


def _repo_root():
    # This file is <root>/lampfleet/upytest.py; MicroPython has no os.path.
    i = __file__.rfind("/")
    return (__file__[:i] if i > 0 else ".") + "/.."


def collect(module):
    """The module's test functions, sorted by name."""
    names = sorted(n for n in dir(module) if n.startswith("test_"))
    return [(n, getattr(module, n)) for n in names if callable(getattr(module, n))]


def run_module(module_name, report, only=None):
    try:
        __import__(module_name)
        module = sys.modules[module_name]
    except Exception as e:
        report(module_name, e)
        return
    for name, fn in collect(module):
        if only is not None and name != only:
            continue
        try:
            fn()
        except Exception as e:
            report(module_name + "." + name, e)
        else:
            report(module_name + "." + name, None)


def _unload(module_name):
    # Compiling a test module from source takes a lot of heap; dropping each module once run leaves the
    # next one the room it would have on its own (-X heapsize=96K, as on an ESP32 without PSRAM).
    sys.modules.pop(module_name, None)
    parent, _, child = module_name.rpartition(".")
    if parent in sys.modules and hasattr(sys.modules[parent], child):
        delattr(sys.modules[parent], child)
    gc.collect()


def main(argv):
    modules = []
    paths = []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "-p" and args:
            paths.append(args.pop(0))
        else:
            modules.append(arg)
    if not modules:
        print("usage: upytest.py [-p DIR]... MODULE...")
        return 2
    for path in reversed(paths):
        sys.path.insert(0, path)
    sys.path.append(_repo_root())
    counts = [0, 0]

    def report(name, error):
        if error is None:
            counts[0] += 1
            print("PASS " + name)
        else:
            counts[1] += 1
            print("FAIL " + name + ": " + _describe(error))
            _print_exception(error)

    for spec in modules:
        module_name, _, only = spec.partition(":")
        run_module(module_name, report, only or None)
        _unload(module_name)
    print("%d passed, %d failed" % (counts[0], counts[1]))
    return 1 if counts[1] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
