"""The lamp's link layer: airtime, duty cycle, reporting cadence, the flash queue, transports, downlinks.

Shared by the ESP32, the MicroPython unix port and CPython (the gateway and the emulator import the pure
modules: airtime, dutycycle, cadence). docs/link.md explains the design and the figures.
"""
