"""Where a device is, to the precision the sun needs: a district table instead of coordinates."""
# Safety kits belong to vulnerable households, so a kit stores only its site name (DESIGN, privacy); the
# sun's times come from that site's coordinates. One kilometre east or west moves sunrise and sunset by
# 4 seconds, so a city-centre point serves every district of Bangui to far better than a minute.
# District names are "<site>-<n>" (e.g. "bangui-3" for the 3rd arrondissement) and resolve to their city.
# Street lamps may carry their own lat_mdeg/lon_mdeg instead.

# name: (lat_mdeg, lon_mdeg). Bangui: the emulator's site (emulator/physics/site.py), 4.3612 N 18.5550 E.
SITES = {
    "bangui": (4361, 18555),
}


def lookup(name):
    """(lat_mdeg, lon_mdeg) for a site or district name, None when unknown."""
    if name in SITES:
        return SITES[name]
    city = name.split("-")[0]
    return SITES.get(city)
