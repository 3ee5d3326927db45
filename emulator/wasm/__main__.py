"""`python -m emulator.wasm install`: fetch the pinned 32-bit MicroPython (see emulator/wasm/__init__.py)."""
import sys

from emulator.wasm import install

if sys.argv[1:] != ["install"]:
    sys.exit("usage: python -m emulator.wasm install")
print(install())
