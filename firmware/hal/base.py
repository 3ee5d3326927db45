"""The HAL contract the shell relies on. Duck-typed: implementations do not inherit from this."""
# Every HAL (esp32.py on the lamp, emulated.py in the emulator, the fleet emulator's DirectHal) provides:
#
#     reset_cause() -> str          one of telemetry.schema.RESET_CAUSES
#     now_ms() -> int               device clock, Unix epoch milliseconds (RTC-backed on the ESP32)
#     set_time_ms(t_ms)             time sync from the gateway (or the last saved time after a power loss)
#     read_inputs() -> dict         integer readings: vbat_mv, ibat_ma (+ charging), pv_mv, led_ma, temp_c;
#                                   where the board has them: pir and button (edges since the last call),
#                                   door, tamper, driver_fault (levels, 1 = active)
#     set_led(pct)                  LED level 0-100 % (PWM), applied until the next call
#     radio_send(frame)             transmit one frame (bytes) on the lamp's link
#     sleep_ms(ms, wake=None)       wait until the next sample, in the lowest sleep the hardware allows
#                                   (hal/esp32.py); returns early when a wake input (PIR, button) fires
#                                   or a reading leaves its band in `wake` ({name: (lo, hi)}, core/wake.py);
#                                   the next read_inputs() may add ibat_avg_ma, the mean battery current
#                                   over the sleep
#     feed_watchdog()               called once per healthy loop iteration
#     log(msg)                      one line on the console
#
# Optional (the shell checks with hasattr):
#
#     set_switches(charge_on, usb_on)   charger enable and the kit's USB output, where fitted
#     reset()                           restart the controller (the gateway's reboot command)
#
# Files (config.json, state.json) are opened with plain open() relative to the current directory: the
# device's root on the ESP32, the lamp's own directory in the emulator.
