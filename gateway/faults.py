"""The faults the gateway alerts on: names (TALQ 2.7.1 where TALQ has one), severity, and crew wording.

Texts are written in the GSM-7 alphabet (no ê, ç, ô...) so that an SMS line never switches to UCS-2
and its 70-character limit; gateway/tests/test_messages.py checks it. docs/alert-rules.md explains
each rule, its thresholds and its evidence.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    name: str
    severity: str  # critical | major | minor | warning (ThingsBoard's scale)
    talq: str  # the TALQ function.attribute it corresponds to, or "-" when TALQ has none
    fr: str
    en: str


LAMP_FAILURE = "lampFailure"
LAMP_UNEXPECTED_ON = "lampUnexpectedOn"
COMMUNICATION_FAILURE = "communicationFailure"
BATTERY_LOW = "batteryLevelTooLow"
BATTERY_DEGRADED = "batteryDegraded"
CHARGING_FAILURE = "chargingFailure"
CONTROL_GEAR_FAILURE = "controlGearFailure"
TAMPER = "tamperDetected"
THEFT = "theftSuspected"
RESET_LOOP = "deviceResetLoop"
LANTERN_NOT_CHARGING = "lanternNotCharging"
LANTERN_UNUSED = "lanternUnused"
PANEL_DEGRADED = "panelDegraded"
HIGH_TEMPERATURE = "highTemperature"
SENSOR_FAILURE = "sensorFailure"
# Raised by ingest (gateway/link/lamp_guard.py), not by the detector: frames refused before they are stored.
AUTH_FAILURES = "authenticationFailures"
REPLAY_REFUSED = "replayRefused"

FAULTS: dict[str, Fault] = {f.name: f for f in (
    Fault(LAMP_FAILURE, "critical", "LampMonitor.lampFailure",
          "lampe eteinte la nuit", "lamp dark at night"),
    Fault(LAMP_UNEXPECTED_ON, "major", "LampMonitor.lampUnexpectedOn",
          "lampe allumee en plein jour", "lamp on in daylight"),
    Fault(COMMUNICATION_FAILURE, "major", "Communication.communicationFailure",
          "plus de nouvelles (muette)", "no frames (silent)"),
    Fault(BATTERY_LOW, "major", "BatteryLevelSensor.batteryLevelTooLow",
          "batterie trop faible, coupures", "battery too low, load cut"),
    Fault(BATTERY_DEGRADED, "minor", "BatteryManagementSystem.estimatedCapacity",
          "batterie usee (capacite en baisse)", "battery worn (capacity falling)"),
    Fault(CHARGING_FAILURE, "major", "SolarBatteryCharger.charging",
          "ne charge pas (panneau?)", "not charging (panel?)"),
    Fault(CONTROL_GEAR_FAILURE, "major", "ControlGearDaliPart102.controlGearFailure",
          "defaut LED/driver", "LED/driver fault"),
    Fault(TAMPER, "major", "-",
          "boitier ouvert", "enclosure opened"),
    Fault(THEFT, "critical", "-",
          "vol probable (ouvert puis muet la nuit)", "theft likely (opened, then silent at night)"),
    Fault(RESET_LOOP, "major", "Basic.deviceReset",
          "controleur redemarre en boucle", "controller in a reboot loop"),
    Fault(LANTERN_NOT_CHARGING, "major", "SolarBatteryCharger.charging",
          "lanterne ne charge pas", "lantern not charging"),
    Fault(LANTERN_UNUSED, "warning", "-",
          "lanterne inutilisee depuis des jours", "lantern unused for days"),
    Fault(PANEL_DEGRADED, "minor", "-",
          "panneau sale ou abime: nettoyer", "panel soiled or damaged: clean it"),
    Fault(HIGH_TEMPERATURE, "major", "BatteryManagementSystem.highTemperature",
          "batterie trop chaude", "battery too hot"),
    Fault(SENSOR_FAILURE, "major", "-",
          "capteur bloque ou impossible", "sensor stuck or impossible"),
    Fault(AUTH_FAILURES, "major", "-",
          "trames falsifiees ou mauvaise cle", "forged frames or wrong key"),
    Fault(REPLAY_REFUSED, "major", "-",
          "compteur remis a zero? re-provisionner", "counter reset? re-provision"),
)}


def text(fault: str, language: str) -> str:
    f = FAULTS.get(fault)
    if f is None:
        return fault
    return f.en if language == "en" else f.fr
