"""A service-account key file for the Google tests (run by scripts/testbed).

    python testbed_google.py service-account FILE

The key is freshly generated and belongs to no real project: the official Rust clients sign
their own JWT access tokens with it (no token endpoint is called), and drongo accepts any
token. This exercises the real Application Default Credentials path
(GOOGLE_APPLICATION_CREDENTIALS), not a hand-made header.
"""

import json
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def service_account(path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    document = {
        "type": "service_account",
        "project_id": "osenv-test",
        "private_key_id": "osenv-test-key",
        "private_key": pem,
        "client_email": "osenv-test@osenv-test.iam.gserviceaccount.com",
        "client_id": "100000000000000000000",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    target = Path(path)
    target.write_text(json.dumps(document))
    target.chmod(0o600)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "service-account":
        service_account(sys.argv[2])
    else:
        sys.exit("usage: testbed_google.py service-account FILE")
