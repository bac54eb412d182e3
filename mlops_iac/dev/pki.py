"""The certificates and keys a local control plane needs, made with `cryptography`.

One CA signs the API server's serving certificate and the client certificates of the
admin and the controllers; a separate RSA key pair signs service-account tokens.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=2)
"""The control plane is throwaway: certificates outlive a test run, not much more."""

API_SERVER_NAMES = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc")
API_SERVER_IPS = ("127.0.0.1", "10.96.0.1")
"""127.0.0.1 for clients on this machine, 10.96.0.1 for the `kubernetes` Service."""

CLIENTS = {
    "admin": ("kubernetes-admin", "system:masters"),
    "controller-manager": ("system:kube-controller-manager", None),
    "scheduler": ("system:kube-scheduler", None),
    "kwok": ("kwok-controller", "system:masters"),
}
"""Client certificate name -> (common name = user, organisation = group)."""


@dataclass(frozen=True)
class Pki:
    """Paths of the PEM files under one folder."""

    root: Path

    def cert(self, name: str) -> Path:
        """`<name>.crt`."""
        return self.root / f"{name}.crt"

    def key(self, name: str) -> Path:
        """`<name>.key`."""
        return self.root / f"{name}.key"

    @property
    def service_account_key(self) -> Path:
        """Private key that signs service-account tokens."""
        return self.root / "sa.key"

    @property
    def service_account_pub(self) -> Path:
        """Public key that verifies service-account tokens."""
        return self.root / "sa.pub"


def create_pki(root: Path) -> Pki:
    """Write a CA, the API server's serving pair, client pairs and the SA key pair."""
    root.mkdir(parents=True, exist_ok=True)
    pki = Pki(root)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("mlops-iac-controlplane-ca")
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write(pki, "ca", ca_cert, ca_key)

    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in API_SERVER_NAMES]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in API_SERVER_IPS]
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        _builder(_name("kube-apiserver"), ca_name, server_key.public_key(), now)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write(pki, "apiserver", server_cert, server_key)

    for file_name, (user, group) in CLIENTS.items():
        _issue_client(pki, file_name, user, group, ca_name, ca_key, now)

    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_private(pki.service_account_key, sa_key)
    pki.service_account_pub.write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return pki


def issue_client(pki: Pki, file_name: str, user: str, group: str | None) -> None:
    """A client certificate for `user` in `group` (its organisation), signed by the CA
    `create_pki` wrote: `<file_name>.crt` and `.key`."""
    ca_cert = x509.load_pem_x509_certificate(pki.cert("ca").read_bytes())
    ca_key = serialization.load_pem_private_key(pki.key("ca").read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    now = datetime.datetime.now(datetime.UTC)
    _issue_client(pki, file_name, user, group, ca_cert.subject, ca_key, now)


def _issue_client(
    pki: Pki,
    file_name: str,
    user: str,
    group: str | None,
    ca_name: x509.Name,
    ca_key: ec.EllipticCurvePrivateKey,
    now: datetime.datetime,
) -> None:
    client_key = ec.generate_private_key(ec.SECP256R1())
    client_cert = (
        _builder(_name(user, group), ca_name, client_key.public_key(), now)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write(pki, file_name, client_cert, client_key)


def _name(common_name: str, organisation: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organisation:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    return x509.Name(attributes)


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime.datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
    )


def _write(pki: Pki, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    pki.cert(name).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(pki.key(name), key)


def _write_private(path: Path, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> None:
    path.touch(mode=0o600)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
