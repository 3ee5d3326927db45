"""What was built: LampSpec, the parameters of one lamp design, and the presets.

Default street lamp (reference/physics.md section 6): 30 W LED, 80 Wp panel, MPPT, 4S LiFePO4 40 Ah.
Section 6 sizes 30 W with a 100/50/30 % night profile at 223 Wh/day and asks 60-74 Wp for PSH 4-5 at
eta 0.75: 80 Wp is the next common size up. Three days' autonomy at DoD 0.8 would need 65 Ah; 40 Ah
(512 Wh, the MNRE-type spec's 40 Ah class) gives ~2 nights of that profile and 1.4 nights at a fixed
100 %: a typical budget all-in-one lamp whose rainy-season survival depends on the firmware's energy
planner, which is what the emulator is for. `street_lead_acid` is the older design (100 Ah, PWM;
section 6 asks 112 Ah for 3 days at DoD 0.5). `kit` is the household lantern: 1.5 W LED, 6 Wp 10-cell
panel, PWM, 1S LiFePO4 6 Ah (19 Wh), USB output up to 5 W.

`led_w` is battery-side input power at 100 % (led.py); `enclosure_gain_c` the battery box's rise above
ambient in full sun, steady state (physics.md 4.4 says 10-20 C, uncertain), reached with time constant
`battery_tau_s`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from emulator.physics.battery import CHEMISTRIES
from emulator.physics.consumption import ControllerLoad


@dataclass(frozen=True)
class LampSpec:
    kind: str = "street"  # street | kit
    led_w: float = 30.0  # battery-side input power at 100 %
    led_string_v: float = 30.0
    led_efficacy_lm_w: float = 150.0
    panel_wp: float = 80.0
    panel_cells: int = 36
    charger: str = "mppt"  # mppt | pwm
    charger_max_a: float = 10.0
    chemistry: str = "lifepo4"  # lifepo4 | lead_acid
    cells: int = 4
    capacity_ah: float = 40.0
    initial_soc_pct: float = 60.0
    usb_max_w: float = 0.0  # 0: no USB output
    enclosure_gain_c: float = 10.0  # battery-box temperature rise in full sun, steady state (physics.md 4.4: 10-20)
    battery_tau_s: float = 3 * 3600.0
    controller: ControllerLoad = field(default_factory=ControllerLoad)
    sensor_noise: bool = True
    lux_max: int = 65535  # BH1750-class light sensor saturation

    def __post_init__(self) -> None:
        if self.kind not in ("street", "kit"):
            raise ValueError(f"unknown lamp kind {self.kind!r}: use 'street' or 'kit'")
        if self.chemistry not in CHEMISTRIES:
            raise ValueError(f"unknown chemistry {self.chemistry!r}: use {', '.join(CHEMISTRIES)}")
        if self.charger not in ("mppt", "pwm"):
            raise ValueError(f"unknown charger {self.charger!r}: use 'mppt' or 'pwm'")
        for name in ("led_w", "led_string_v", "panel_wp", "capacity_ah", "charger_max_a", "battery_tau_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"LampSpec.{name} must be positive")
        if not 0.0 <= self.initial_soc_pct <= 100.0:
            raise ValueError("LampSpec.initial_soc_pct must be 0..100")

    @property
    def nominal_v(self) -> float:
        return self.cells * (3.2 if self.chemistry == "lifepo4" else 2.0)

    @classmethod
    def street(cls, **overrides) -> "LampSpec":
        return replace(PRESETS["street"], **overrides)

    @classmethod
    def kit(cls, **overrides) -> "LampSpec":
        return replace(PRESETS["kit"], **overrides)


PRESETS: dict[str, LampSpec] = {
    "street": LampSpec(),
    "street_lead_acid": LampSpec(chemistry="lead_acid", cells=6, capacity_ah=100.0, charger="pwm"),
    "kit": LampSpec(kind="kit", led_w=1.5, led_string_v=3.0, panel_wp=6.0, panel_cells=10, charger="pwm",
                    charger_max_a=2.0, cells=1, capacity_ah=6.0, usb_max_w=5.0, enclosure_gain_c=8.0,
                    battery_tau_s=3600.0),
}
