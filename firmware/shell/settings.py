"""The controller's settings: the provisioned ones over the profile's defaults, with the battery's
chemistry profile read from firmware/profiles/<chemistry>.json.
"""
# A bad setting must not keep a lamp dark: `load` then falls back to the profile's defaults and returns
# the error for the log and a config_applied event (value 0). On MicroPython the validation code is
# dropped from memory (`forget`) once the settings are built (about 10 KB of a 100 KB heap); it is loaded
# again if a config downlink arrives.
import os

import firmware
from firmware.shell import persist


# Beside the package: /lib/firmware/profiles/ as `lampfleet flash` installs them (or in ROMFS). Frozen into
# the firmware image (tools/manifest.py), the package has no directory of its own: the files are still
# where the flash tool puts them, lib/firmware/profiles/ under the root the lamp runs in.
def _profiles_dir():
    beside = firmware.__file__[: firmware.__file__.rfind("/") + 1] + "profiles"
    try:
        os.stat(beside)
        return beside + "/"
    except OSError:
        return "lib/firmware/profiles/"


PROFILES_DIR = _profiles_dir()


def chemistry(name):
    data = persist.load(PROFILES_DIR + name + ".json")
    if isinstance(data, dict):
        data.pop("about", None)
    return data


def load(user, profile, site, strict=False):
    """(cfg, None) or, on a bad setting, (cfg from the defaults, error text); strict: (None, error)."""
    from firmware.core import config

    user = user if isinstance(user, dict) else {}
    try:
        cfg = _build(config, user, profile, site)
        error = None
    except (config.ConfigError, OSError) as e:
        error = str(e)
        cfg = None
        if not strict:
            try:
                cfg = _build(config, {}, profile, site)
            except config.ConfigError:
                cfg = _build(config, {}, profile, None)  # an unknown site: PV dusk/dawn only
    return cfg, error


def forget():
    """Drop the validation code from the heap (firmware/shell/__init__.py)."""
    from firmware import shell

    shell.forget(("firmware.shell.settings", "firmware.core.config", "firmware.core.sites"))


def _build(config, user, profile, site):
    default = config.KIT_DEFAULTS["chemistry"] if profile == "kit" else config.DEFAULTS["chemistry"]
    name = user.get("chemistry", default)
    battery = chemistry(name) if isinstance(name, str) else None
    if battery is None:
        raise config.ConfigError("chemistry", "no profile %r in %s" % (name, PROFILES_DIR))
    return config.build(user, profile=profile, site=site, battery=battery)
