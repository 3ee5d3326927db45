"""A small certificate authority for the broker's TLS listener (`lampfleet broker-config --make-ca`).

    ca.crt      the CA certificate: given to the gateway (mqtt_ca_file) and to every lamp (provisioning)
    ca.key      the CA's private key: keep it offline; whoever holds it can impersonate the broker
    server.crt  the broker's certificate for the given host names and IP addresses, signed by the CA
    server.key  its private key (mosquitto's keyfile)

EC P-256 keys: a lamp's config carries the CA certificate (about 500 bytes DER) and the ESP32's mbedtls
verifies ECDSA faster and with less heap than RSA-2048. An existing CA is reused, so a second run with
new host names only issues a new server certificate and the lamps keep trusting the broker.
"""
from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_YEARS = 20  # a lamp's CA is replaced only by re-provisioning it: outlive the lamp
SERVER_YEARS = 5


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "lampfleet"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _alt_names(hosts: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _ca(directory: Path, now: datetime.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    crt_path, key_path = directory / "ca.crt", directory / "ca.key"
    if crt_path.exists() and key_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{key_path} is not an EC key made by lampfleet: move it away or use --ca")
        return x509.load_pem_x509_certificate(crt_path.read_bytes()), key
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name("lampfleet broker CA")
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365 * CA_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    _write_key(key_path, key)
    crt_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def make_ca(directory: Path, hosts: list[str]) -> dict[str, Path]:
    """Make (or reuse) the CA in directory and issue server.crt/server.key for hosts (names or IPs).
    Returns the paths by role: ca, ca_key, cert, key."""
    if not hosts:
        raise ValueError("name the broker's host names or IP addresses (--host), as lamps and the gateway dial them")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_cert, ca_key = _ca(directory, now)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(hosts[0])).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365 * SERVER_YEARS))
            .add_extension(x509.SubjectAlternativeName(_alt_names(hosts)), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    _write_key(directory / "server.key", key)
    (directory / "server.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return {"ca": directory / "ca.crt", "ca_key": directory / "ca.key", "cert": directory / "server.crt",
            "key": directory / "server.key"}


def ca_der(ca_file: Path) -> bytes:
    """The first certificate of a PEM (or DER) file, as DER: what a lamp's mbedtls is given."""
    data = Path(ca_file).read_bytes()
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificate(data).public_bytes(serialization.Encoding.DER)
    return x509.load_der_x509_certificate(data).public_bytes(serialization.Encoding.DER)
