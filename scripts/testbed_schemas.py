"""JSON schemas the tests validate osenv's output against, fetched from package registries and
checked against pinned SHA-256 digests (run by scripts/testbed; standard library and pip only).

    python testbed_schemas.py DIR

writes DIR/sarif-schema-2.1.0.json (the OASIS SARIF 2.1.0 schema, as shipped in the crates.io
package serde-sarif 0.8.0), DIR/github-workflow.json and DIR/gitlab-ci.json (the schemastore
schemas for GitHub Actions workflows and GitLab CI, as shipped in the PyPI package
check-jsonschema 0.39.0). Nothing of them is kept in the repository.
"""

import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from pathlib import Path

SARIF_CRATE = "https://static.crates.io/crates/serde-sarif/serde-sarif-0.8.0.crate"
SARIF_SHA256 = "a053c46f18a8043570d4e32fefc4c6377f82bf29ec310a33e93f273048e3b0be"
CHECK_JSONSCHEMA = "check-jsonschema==0.39.0"
CHECK_JSONSCHEMA_SHA256 = "14ce5c94871c551268ea948ffe21e9f1464dc48fb20bf9a4c13deeaaf756cf9b"


def sarif(out):
    with urllib.request.urlopen(SARIF_CRATE, timeout=60) as response:
        data = response.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SARIF_SHA256:
        sys.exit(f"testbed_schemas: {SARIF_CRATE} has sha256 {digest}, expected {SARIF_SHA256}")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as crate:
        schema = crate.extractfile("serde-sarif-0.8.0/src/schema.json").read()
    (out / "sarif-schema-2.1.0.json").write_bytes(schema)


def ci_schemas(out):
    with tempfile.TemporaryDirectory() as tmp:
        requirement = Path(tmp) / "requirements.txt"
        requirement.write_text(f"{CHECK_JSONSCHEMA} --hash=sha256:{CHECK_JSONSCHEMA_SHA256}\n")
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
             "--require-hashes", "--only-binary=:all:", "-r", str(requirement), "-d", tmp],
            check=True,
        )
        wheel = next(Path(tmp).glob("check_jsonschema-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            vendor = "check_jsonschema/builtin_schemas/vendor"
            (out / "github-workflow.json").write_bytes(archive.read(f"{vendor}/github-workflows.json"))
            (out / "gitlab-ci.json").write_bytes(archive.read(f"{vendor}/gitlab-ci.json"))


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    sarif(out)
    ci_schemas(out)


if __name__ == "__main__":
    main()
