"""The few `vault` CLI commands deploy/kubernetes/vault/setup.sh uses, over the HTTP API, so the
tests run that script as written against the test OpenBao (the real CLI is not installed).

    vault auth enable TYPE
    vault policy write NAME FILE
    vault write PATH key=value key=@file ...

VAULT_ADDR and VAULT_TOKEN as for the real CLI. OSENV_SHIM_AUTH_MOUNT, when set, puts the
`kubernetes` auth method at that mount instead (so a test's setup does not touch the mount other
tests use); auth/kubernetes/... paths follow it.
"""

import json
import os
import sys
import urllib.error
import urllib.request


def mount_of(path):
    mount = os.environ.get("OSENV_SHIM_AUTH_MOUNT")
    if mount and path.startswith("auth/kubernetes/"):
        return f"auth/{mount}/" + path[len("auth/kubernetes/") :]
    return path


def call(method, path, body):
    request = urllib.request.Request(
        f"{os.environ['VAULT_ADDR']}/v1/{path}", data=json.dumps(body).encode(), method=method
    )
    request.add_header("X-Vault-Token", os.environ["VAULT_TOKEN"])
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
    except urllib.error.HTTPError as e:
        sys.stderr.write(f"Error writing data to {path}: {e.code} {e.read().decode()}\n")
        sys.exit(2)


def value(text):
    if text.startswith("@"):
        with open(text[1:]) as f:
            return f.read()
    if text in ("true", "false"):
        return text == "true"
    return text


def main(args):
    if args[:2] == ["auth", "enable"]:
        kind = args[2]
        mount = os.environ.get("OSENV_SHIM_AUTH_MOUNT", kind) if kind == "kubernetes" else kind
        call("POST", f"sys/auth/{mount}", {"type": kind})
    elif args[:2] == ["policy", "write"]:
        with open(args[3]) as f:
            call("PUT", f"sys/policies/acl/{args[2]}", {"policy": f.read()})
    elif args[0] == "write":
        body = dict(pair.split("=", 1) for pair in args[2:])
        call("POST", mount_of(args[1]), {k: value(v) for k, v in body.items()})
    else:
        sys.exit(f"vault shim: unsupported command {args}")


if __name__ == "__main__":
    main(sys.argv[1:])
