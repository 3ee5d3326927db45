"""Where a lamp stands: coordinates, altitude, time zone and the site's clear-sky turbidity.

`Site.linke_monthly` holds the Linke turbidity factor TL (air-mass-2 convention) for the middle of each
month. The Bangui values are the SoDa/Meteotest climatology as bundled with pvlib 0.16.1
(`pvlib.clearsky.lookup_linke_turbidity(..., interp_turbidity=False)` at 4.3612 N, 18.555 E), copied
here so the emulator needs neither pvlib nor its HDF5 file at run time. Other sites default to a flat
TL = 4.0, a typical value for humid tropical air; replace it with the site's own climatology.

Altitude of Bangui: ~370 m, marked "assumed" in reference/physics.md section 5.
"""
from __future__ import annotations

from dataclasses import dataclass

_FLAT_TL = (4.0,) * 12


@dataclass(frozen=True)
class Site:
    name: str
    lat: float  # degrees, north positive
    lon: float  # degrees, east positive
    altitude_m: float = 0.0
    utc_offset_h: float = 0.0  # civil time zone, used for local days and local clock in traces
    linke_monthly: tuple[float, ...] = _FLAT_TL  # Linke turbidity at mid-month, Jan..Dec

    def __post_init__(self) -> None:
        if not -90.0 <= self.lat <= 90.0 or not -180.0 <= self.lon <= 180.0:
            raise ValueError(f"site {self.name!r}: latitude/longitude out of range ({self.lat}, {self.lon})")
        if len(self.linke_monthly) != 12:
            raise ValueError(f"site {self.name!r}: linke_monthly needs 12 values, got {len(self.linke_monthly)}")

    @property
    def utc_offset_s(self) -> float:
        return self.utc_offset_h * 3600.0


BANGUI = Site(
    name="bangui",
    lat=4.3612,
    lon=18.5550,
    altitude_m=370.0,
    utc_offset_h=1.0,  # WAT, no daylight saving
    linke_monthly=(3.85, 4.30, 4.65, 4.60, 4.40, 4.55, 4.50, 4.55, 5.05, 4.65, 4.20, 4.05),
)

SITES: dict[str, Site] = {"bangui": BANGUI}


def get_site(site: Site | str) -> Site:
    """A Site from a Site or a registered name; a clear error for an unknown name."""
    if isinstance(site, Site):
        return site
    try:
        return SITES[site]
    except KeyError:
        raise ValueError(f"unknown site {site!r}: known sites are {', '.join(sorted(SITES))}") from None
