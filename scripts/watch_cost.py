"""What a `--watch` check costs: requests per check against the real test servers.

    python3 scripts/watch_cost.py --osenv target/debug/osenv --moto URL --vault URL [--conjur URL]
        [--refs 100] [--checks 5]

Run with the testbed's Python (it has boto3) after `eval "$(scripts/testbed start)"`. For each
backend it seeds N secrets, starts `osenv exec --watch --watch-interval 1s` (a `sleep` child)
behind scripts/latency_proxy.py (no added delay, it only counts requests), and reports the
requests of the first resolution and the mean per later check. Prints a Markdown table for
BENCHMARKS.md, with what a 500-pod fleet polling every 5 minutes sends.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent


def proxy(upstream, workdir):
    port_file = Path(workdir) / "proxy.ports"
    process = subprocess.Popen(
        [sys.executable, str(HERE / "latency_proxy.py"), "--upstream", upstream, "--delay-ms", "0", "--port-file", str(port_file)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        if port_file.exists() and port_file.read_text().strip():
            break
        time.sleep(0.05)
    port, control = port_file.read_text().split()
    return process, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{control}"


def requests(control):
    with urllib.request.urlopen(f"{control}/stats", timeout=5) as response:
        return json.loads(response.read())["requests"]


def vault_call(addr, method, path, body):
    request = urllib.request.Request(f"{addr}/v1/{path}", data=json.dumps(body).encode(), method=method)
    request.add_header("X-Vault-Token", "root")
    request.add_header("Content-Type", "application/json")
    urllib.request.urlopen(request, timeout=10).read()


def seed_vault(addr, n):
    vault_call(addr, "POST", "auth/approle/role/watchcost", {"token_policies": ["reader"], "token_ttl": "1h"})
    vault_call(addr, "POST", "auth/approle/role/watchcost/role-id", {"role_id": "watchcost-role"})
    try:
        vault_call(addr, "POST", "auth/approle/role/watchcost/custom-secret-id", {"secret_id": "watchcost-secret"})
    except urllib.error.HTTPError as e:  # a second run against the same server: it exists
        if b"already registered" not in e.read():
            raise
    for i in range(n):
        vault_call(addr, "POST", f"secret/data/app/watchcost/KEY_{i}", {"data": {"key": f"value-{i}"}})


def seed_aws(url, n):
    import boto3

    client = boto3.client(
        "secretsmanager",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    for i in range(n):
        try:
            client.create_secret(Name=f"KEY_{i}", SecretString=f"value-{i}")
        except client.exceptions.ResourceExistsException:
            pass


def seed_conjur(url, n):
    urllib.request.urlopen(urllib.request.Request(f"{url}/_fake/reset", data=b"", method="POST"), timeout=10).read()
    for i in range(n):
        body = json.dumps({"id": f"KEY_{i}", "values": [f"value-{i}"]}).encode()
        urllib.request.urlopen(urllib.request.Request(f"{url}/_fake/seed", data=body, method="POST"), timeout=10).read()


def measure(osenv, system, upstream, env, n, checks):
    with tempfile.TemporaryDirectory() as workdir:
        process, url, control = proxy(upstream, workdir)
        try:
            config = Path(workdir) / "config.yaml"
            config.write_text(
                f"general_settings:\n  key_management_system: {system}\n"
                + "".join(f"k{i}: os.environ/KEY_{i}\n" for i in range(n))
            )
            log = Path(workdir) / "osenv.log"
            run_env = {"PATH": os.environ["PATH"], **env(url)}
            with open(log, "w") as out:
                watcher = subprocess.Popen(
                    [osenv, "exec", "--watch", "--watch-interval", "1s", "-v", str(config), "--", "sleep", "1000"],
                    env=run_env,
                    stdout=subprocess.DEVNULL,
                    stderr=out,
                )
            resolutions = lambda: log.read_text().count(" resolved names=")
            while resolutions() < 1:
                time.sleep(0.02)
            first = requests(control)
            while resolutions() < checks + 1:
                time.sleep(0.05)
            total = requests(control)
            done = resolutions()
            watcher.terminate()
            watcher.wait(timeout=10)
            after_exit = requests(control) - total
            return first, (total - first) / (done - 1), after_exit
        finally:
            process.terminate()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--osenv", required=True)
    parser.add_argument("--moto", required=True)
    parser.add_argument("--vault", required=True)
    parser.add_argument("--conjur", help="the testbed's Conjur fake (OSENV_TEST_CONJUR)")
    parser.add_argument("--refs", type=int, default=100)
    parser.add_argument("--checks", type=int, default=5)
    args = parser.parse_args()
    n = args.refs
    seed_aws(args.moto, n)
    seed_vault(args.vault, n)
    rows = [
        (
            "AWS Secrets Manager",
            measure(
                args.osenv,
                "aws_secret_manager",
                args.moto.removeprefix("http://"),
                lambda url: {
                    "AWS_ENDPOINT_URL": url,
                    "AWS_REGION": "us-east-1",
                    "AWS_ACCESS_KEY_ID": "test",
                    "AWS_SECRET_ACCESS_KEY": "test",
                    "AWS_EC2_METADATA_DISABLED": "true",
                },
                n,
                args.checks,
            ),
        ),
        (
            "HashiCorp Vault (AppRole)",
            measure(
                args.osenv,
                "hashicorp_vault",
                args.vault.removeprefix("http://"),
                lambda url: {
                    "HCP_VAULT_ADDR": url,
                    "HCP_VAULT_PATH_PREFIX": "app/watchcost",
                    "HCP_VAULT_APPROLE_ROLE_ID": "watchcost-role",
                    "HCP_VAULT_APPROLE_SECRET_ID": "watchcost-secret",
                },
                n,
                args.checks,
            ),
        ),
    ]
    if args.conjur:
        seed_conjur(args.conjur, n)
        rows.append(
            (
                "CyberArk Conjur (API key)",
                measure(
                    args.osenv,
                    "cyberark",
                    args.conjur.removeprefix("http://"),
                    lambda url: {"CYBERARK_API_BASE": url, "CYBERARK_API_KEY": "admin-api-key"},
                    n,
                    args.checks,
                ),
            )
        )
    print(f"| backend | first resolution | per check (N = {n}, mean of {args.checks}) | at exit | 500 pods, every 5 min |")
    print("|---|---|---|---|---|")
    for name, (first, per_check, at_exit) in rows:
        fleet = 500 * per_check / 300
        print(f"| {name} | {first} | {per_check:.1f} | {at_exit} | {fleet:.1f} requests/s |")


if __name__ == "__main__":
    main()
