"""Certificates and configuration for the OpenBao test server (run by scripts/testbed).

    python testbed_vault.py certs DIR           write ca, server, client and rogue PEM files
    python testbed_vault.py setup ADDR TOKEN DIR IDENTITY
        enable AppRole, cert auth, Kubernetes and JWT auth (IDENTITY: the identity fake's URL, its
        TokenReview API and OIDC issuer), a namespace and a KV v1 mount

Uses only the standard library and `cryptography` (already in the test venv through moto).
"""

import datetime
import ipaddress
import json
import sys
import urllib.request
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Fixed credentials of the test roles; the tests read them from here too.
APPROLE_ROLE_ID = "osenv-test-role"
APPROLE_SECRET_ID = "osenv-test-secret-id"


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key, path):
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _cert(subject, key, issuer, issuer_key, *, ca=False, server=False):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    elif server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    else:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def certs(directory):
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    ca_key = _key()
    ca = _cert("osenv test CA", ca_key, "osenv test CA", ca_key, ca=True)
    (d / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    for name, server in [("server", True), ("client", False)]:
        key = _key()
        cert = _cert(f"osenv test {name}", key, "osenv test CA", ca_key, server=server)
        (d / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, d / f"{name}.key")
    # A client certificate no CA of the server vouches for.
    rogue_key = _key()
    rogue = _cert("rogue", rogue_key, "rogue", rogue_key, ca=False)
    (d / "rogue.pem").write_bytes(rogue.public_bytes(serialization.Encoding.PEM))
    _write_key(rogue_key, d / "rogue.key")


def _call(addr, token, method, path, body=None, namespace=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{addr}/v1/{path}", data=data, method=method)
    request.add_header("X-Vault-Token", token)
    if namespace:
        request.add_header("X-Vault-Namespace", namespace)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read()
    return json.loads(text) if text else None


READER_POLICY = """
path "secret/data/app/*" { capabilities = ["read"] }
path "secret/metadata/app/*" { capabilities = ["read"] }
"""


def setup(addr, token, directory, identity):
    d = Path(directory)
    _call(addr, token, "PUT", "sys/policies/acl/reader", {"policy": READER_POLICY})
    # AppRole with fixed ids.
    _call(addr, token, "POST", "sys/auth/approle", {"type": "approle"})
    _call(addr, token, "POST", "auth/approle/role/osenv", {"token_policies": ["reader"], "token_ttl": "1h"})
    _call(addr, token, "POST", "auth/approle/role/osenv/role-id", {"role_id": APPROLE_ROLE_ID})
    _call(addr, token, "POST", "auth/approle/role/osenv/custom-secret-id", {"secret_id": APPROLE_SECRET_ID})
    # TLS certificate auth trusting the test CA.
    _call(addr, token, "POST", "sys/auth/cert", {"type": "cert"})
    _call(
        addr,
        token,
        "POST",
        "auth/cert/certs/web",
        {"certificate": (d / "ca.pem").read_text(), "policies": "reader"},
    )
    # A namespace with its own KV v2 mount and AppRole.
    _call(addr, token, "POST", "sys/namespaces/team1", {})
    _call(addr, token, "POST", "sys/mounts/secret", {"type": "kv", "options": {"version": "2"}}, namespace="team1")
    _call(addr, token, "PUT", "sys/policies/acl/reader", {"policy": READER_POLICY}, namespace="team1")
    _call(addr, token, "POST", "sys/auth/approle", {"type": "approle"}, namespace="team1")
    _call(addr, token, "POST", "auth/approle/role/osenv", {"token_policies": ["reader"]}, namespace="team1")
    _call(addr, token, "POST", "auth/approle/role/osenv/role-id", {"role_id": APPROLE_ROLE_ID}, namespace="team1")
    _call(
        addr,
        token,
        "POST",
        "auth/approle/role/osenv/custom-secret-id",
        {"secret_id": APPROLE_SECRET_ID},
        namespace="team1",
    )
    # Kubernetes auth, reviewing tokens at the identity fake (its TokenReview API).
    _call(addr, token, "POST", "sys/auth/kubernetes", {"type": "kubernetes"})
    _call(
        addr,
        token,
        "POST",
        "auth/kubernetes/config",
        {
            "kubernetes_host": identity,
            "token_reviewer_jwt": "reviewer",
            "disable_local_ca_jwt": True,
            # Required with disable_local_ca_jwt, even for an http host (unused).
            "kubernetes_ca_cert": (d / "ca.pem").read_text(),
        },
    )
    _call(
        addr,
        token,
        "POST",
        "auth/kubernetes/role/litellm",
        {
            "bound_service_account_names": ["litellm"],
            "bound_service_account_namespaces": ["default"],
            "token_policies": ["reader"],
            "token_ttl": "1h",
        },
    )
    # JWT auth trusting the identity fake's key (no OIDC discovery), two roles: `ci` for a
    # token with audience `vault`, `github` for GitHub Actions' token whose audience is the
    # Vault address (osenv's default) and whose repository claim is bound.
    with urllib.request.urlopen(f"{identity}/public-key", timeout=10) as response:
        public_key = response.read().decode()
    _call(addr, token, "POST", "sys/auth/jwt", {"type": "jwt"})
    _call(addr, token, "POST", "auth/jwt/config", {"jwt_validation_pubkeys": [public_key], "bound_issuer": identity})
    _call(
        addr,
        token,
        "POST",
        "auth/jwt/role/ci",
        {"role_type": "jwt", "bound_audiences": ["vault"], "user_claim": "sub", "token_policies": ["reader"], "token_ttl": "1h"},
    )
    _call(
        addr,
        token,
        "POST",
        "auth/jwt/role/github",
        {
            "role_type": "jwt",
            "bound_audiences": [addr],
            "bound_claims": {"repository": "acme/litellm-config"},
            "user_claim": "sub",
            "token_policies": ["reader"],
            "token_ttl": "1h",
        },
    )
    # A KV v1 mount.
    _call(addr, token, "POST", "sys/mounts/kv1", {"type": "kv", "options": {"version": "1"}})


if __name__ == "__main__":
    if sys.argv[1] == "certs":
        certs(sys.argv[2])
    elif sys.argv[1] == "setup":
        setup(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    else:
        sys.exit("usage: testbed_vault.py certs DIR | setup ADDR TOKEN DIR IDENTITY")
