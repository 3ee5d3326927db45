"""Lamp controller firmware (MicroPython on ESP32; also runs on the unix port and CPython)."""
# core/     pure decisions: step(state, inputs, now_ms) -> (outputs, events); no I/O, no clocks
# hal/      hardware access: esp32.py (machine.*), emulated.py (the lamp emulator's board bus), board.py
# shell/    the loop that samples, steps the core, drives outputs, builds and sends frames, persists state
# boards/   per-board pin maps and ADC dividers (data)
# profiles/ battery chemistry profiles (data)
# docs/firmware.md explains the design.
