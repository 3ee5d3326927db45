"""Keys sealed for the gateway (gateway/sealed_keys/seal.py): only that gateway opens them, any change is seen,
and no input makes the reader crash."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

from gateway.sealed_keys.seal import (KeyExportError, gateway_private_key, key_check, open_sealed, parse_public_key,
                               public_key_text, read_header, seal)
from gateway.keystore import KeyStore

KEY = bytes(range(16))


@pytest.fixture
def gateway_key(tmp_path):
    KeyStore.open(tmp_path / "gw.masterkey")
    return gateway_private_key(tmp_path / "gw.masterkey")


def test_round_trip_and_the_same_key_pair_from_the_same_master_key(gateway_key, tmp_path):
    text = public_key_text(gateway_key)
    assert text.startswith("lampfleet-x25519 ") and public_key_text(gateway_private_key(tmp_path / "gw.masterkey")) == text
    data = seal(parse_public_key(text), "BGI-0042", 0x123456, KEY, site="bimbo", profile="kit", sealed_s=7)
    assert KEY.hex() not in data.decode() and KEY not in data
    got = open_sealed(gateway_key, data)
    assert (got.lamp_id, got.devaddr, got.key, got.site, got.profile, got.sealed_s) == (
        "BGI-0042", 0x123456, KEY, "bimbo", "kit", 7)
    assert read_header(data)["key_check"] == key_check(KEY) != key_check(bytes(16))
    assert seal(gateway_key.public_key(), "BGI-0042", 1, KEY) != seal(gateway_key.public_key(), "BGI-0042", 1, KEY)


def test_another_gateway_cannot_open_and_any_changed_field_is_refused(gateway_key, tmp_path):
    KeyStore.open(tmp_path / "other.masterkey")
    other = gateway_private_key(tmp_path / "other.masterkey")
    data = seal(gateway_key.public_key(), "BGI-0042", 0x123456, KEY, site="bimbo")
    with pytest.raises(KeyExportError, match="another gateway"):
        open_sealed(other, data)
    doc = json.loads(data)
    for field, value in (("lamp_id", "BGI-0666"), ("devaddr", 1), ("site", "x"), ("profile", "kit"),
                         ("sealed_s", 9), ("nonce", "AAAAAAAAAAAAAAAA"), ("sealed", doc["sealed"][::-1])):
        changed = json.dumps({**doc, field: value}).encode()
        with pytest.raises(KeyExportError, match="damaged|altered"):
            open_sealed(gateway_key, changed)
    with pytest.raises(KeyExportError, match="not a gateway public key"):
        parse_public_key("ssh-ed25519 AAAA")


def test_missing_master_key_is_said_plainly(tmp_path):
    from gateway.keystore import KeyStoreError

    with pytest.raises(KeyStoreError, match="not found"):
        gateway_private_key(tmp_path / "none.masterkey")


@settings(derandomize=True, max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300),
                 st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                              lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                              max_leaves=20).map(lambda v: json.dumps(v).encode()),
                 st.dictionaries(st.sampled_from(["format", "lamp_id", "devaddr", "sealed", "nonce", "ephemeral"]),
                                 st.one_of(st.integers(), st.text(max_size=12)))
                 .map(lambda d: json.dumps({"format": "lampfleet-sealed-key/1", **d}).encode())))
def test_reader_refuses_anything_else_with_a_reason(data):
    with pytest.raises(KeyExportError):
        read_header(data)
