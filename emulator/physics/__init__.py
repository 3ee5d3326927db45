"""Physics of a solar lamp for the emulator: sun, clear sky, weather, panel, charger, battery, LED,
controller consumption, and LampPhysics composing them. Pure CPython standard library; see
docs/emulator-physics.md for the equations, sources and accuracy checks."""
from emulator.physics.lamp import FAULTS, PRESETS, READINGS, LampPhysics, LampSpec
from emulator.physics.site import BANGUI, SITES, Site, get_site
from emulator.physics.trace import TraceWeather, WeatherFileError, WeatherRangeError
from emulator.physics.weather import TRACES_DIR, ClearSkyWeather, Climate, SyntheticWeather, Weather

__all__ = ["LampPhysics", "LampSpec", "PRESETS", "FAULTS", "READINGS", "Site", "SITES", "BANGUI", "get_site",
           "Weather", "SyntheticWeather", "ClearSkyWeather", "Climate", "TraceWeather", "WeatherFileError",
           "WeatherRangeError", "TRACES_DIR"]
