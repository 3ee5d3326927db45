"""The household kit: a manual switch over the automatic night mode, a door light, the USB output."""
# - A press of the button (inputs["button"]: presses since the last sample, latched by the HAL's IRQ)
#   toggles the light: on by day (for `manual_max_min` at most) or off at night. Either choice holds
#   until the next dusk or dawn, then the automatic night mode takes over again.
# - The door sensor (inputs["door"], 1 = open) opening at night lights the lantern fully for
#   `door_light_s`. Door events stay on the device: when a household opens its door is nobody's business
#   (DESIGN, privacy), so they are neither reported nor stored.
# - The USB output is cut below `usb_min_soc_pct` (5 points hysteresis) and whenever the load is
#   disconnected: the light comes before phone charging.


class Kit:
    def __init__(self):
        self.manual = None  # "on", "off" or None (automatic)
        self.until_ms = 0
        self.door = 0
        self.usb_on = True

    def update(self, cfg, inputs, lit, now_ms, soc_pct, load_on):
        """Return the end of a door-light boost (ms) or 0."""
        if inputs.get("button", 0) % 2:
            self.manual = "off" if lit else "on"
            self.until_ms = now_ms + cfg.manual_max_min * 60000
        if self.manual == "on" and now_ms >= self.until_ms:
            self.manual = None
        door = inputs.get("door", 0)
        boost = 0
        if door and not self.door:
            boost = now_ms + cfg.door_light_s * 1000
        self.door = door
        low = cfg.usb_min_soc_pct
        soc = 100 if soc_pct is None else soc_pct
        self.usb_on = load_on and (soc >= low + 5 or (self.usb_on and soc >= low))
        return boost
