"""Controller consumption: ESP32 + LoRa radio + board on a 3.3 V rail, fed from the battery through a
DC-DC converter.

Average rail current over an interval dt with the CPU awake for a seconds, radio TX for t_tx, RX for
t_rx and Wi-Fi TX for t_wifi (the radio draws on top of the CPU, which is awake while it works):

    I_rail = [I_cpu a + I_sleep (dt - a) + I_tx t_tx + I_rx t_rx + I_wifi t_wifi] / dt + I_board
    P_bat  = V_rail I_rail / eta_dcdc                     V_rail = 3.3 V, eta_dcdc = 0.85
    I_bat  = P_bat / V_bat                                (the lamp model converts at the actual V_bat)

Currents (physics.md 3.1 and 3.3; DESIGN.md): ESP32 CPU active 20-68 mA (default 40 mA: 160 MHz,
modem sleep), light sleep 0.8 mA, deep sleep 10 uA; SX1276 TX 120 mA at +20 dBm (87 mA at +17 dBm),
RX 11.5 mA, sleep 0.2 uA; Wi-Fi TX 160-260 mA (default 200 mA). Board (voltage dividers, light
sensor, LDO quiescent) 0.5 mA [assumed]. cpu_awake_s=None means awake for the whole interval.

With the defaults an always-awake controller draws 40.5 mA at 3.3 V = 0.157 W from the battery,
12.3 mA at 12.8 V (3.8 Wh/day); in light sleep 1.3 mA = 5 mW.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ControllerLoad:
    rail_v: float = 3.3
    dcdc_eff: float = 0.85
    cpu_active_ma: float = 40.0
    sleep_ma: float = 0.8  # light sleep; 0.010 for a deep-sleeping design
    lora_tx_ma: float = 120.0
    lora_rx_ma: float = 11.5
    lora_sleep_ma: float = 0.0002
    wifi_tx_ma: float = 200.0
    board_ma: float = 0.5

    def rail_ma(self, dt_s: float, cpu_awake_s: float | None = None, radio_tx_ms: float = 0.0,
                radio_rx_ms: float = 0.0, wifi_tx_ms: float = 0.0) -> float:
        """Average 3.3 V rail current (mA) over an interval of dt_s seconds."""
        if dt_s <= 0.0:
            return 0.0
        awake = dt_s if cpu_awake_s is None else min(max(cpu_awake_s, 0.0), dt_s)
        charge = self.cpu_active_ma * awake + self.sleep_ma * (dt_s - awake)
        radio_s = (radio_tx_ms + radio_rx_ms) * 0.001
        charge += (self.lora_tx_ma * radio_tx_ms + self.lora_rx_ma * radio_rx_ms
                   + self.wifi_tx_ma * wifi_tx_ms) * 0.001
        charge += self.lora_sleep_ma * max(0.0, dt_s - radio_s)
        return charge / dt_s + self.board_ma

    def battery_w(self, dt_s: float, cpu_awake_s: float | None = None, radio_tx_ms: float = 0.0,
                  radio_rx_ms: float = 0.0, wifi_tx_ms: float = 0.0) -> float:
        """Average battery-side power (W) over the interval."""
        ma = self.rail_ma(dt_s, cpu_awake_s, radio_tx_ms, radio_rx_ms, wifi_tx_ms)
        return self.rail_v * ma * 0.001 / self.dcdc_eff

    def battery_ma(self, v_bat: float, dt_s: float, cpu_awake_s: float | None = None,
                   radio_tx_ms: float = 0.0, radio_rx_ms: float = 0.0, wifi_tx_ms: float = 0.0) -> float:
        return self.battery_w(dt_s, cpu_awake_s, radio_tx_ms, radio_rx_ms, wifi_tx_ms) / v_bat * 1000.0
