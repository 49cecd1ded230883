"""A fleet's rollout on one machine: AWS Secrets Manager's quotas, or a real OpenBao with AppRole.

Starts a quota-enforcing fake of the Secrets Manager read API (the account's non-adjustable
quotas: BatchGetSecretValue 100 requests/s, GetSecretValue + DescribeSecret 10,000 requests/s,
each a token bucket with one second of burst; throttled requests answered the way the service
does: HTTP 400, `x-amzn-ErrorType: ThrottlingException`), adds a latency to every request, then
launches P `osenv render` processes at the same instant with K references each, checks every
output against the seeded values, and reports successes, exit codes, wall times and requests.

moto cannot serve thousands of requests per second on two cores, so this fake answers reads
itself from a table seeded with the same values; the fake's own speed is the harness's floor,
printed as such. Standard library only.

With `--vault ADDR` (an OpenBao dev server whose root token is `root`, as `scripts/testbed`
starts it) the pods log in with AppRole and read K KV v2 secrets each from the real server; the
run checks every output and that no login token is left alive in OpenBao afterwards.
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

QUOTAS = {"BatchGetSecretValue": 100.0, "GetSecretValue": 10_000.0}


class Bucket:
    """A token bucket: `rate` per second, one second of burst."""

    def __init__(self, rate):
        self.rate = rate
        self.tokens = rate
        self.at = time.monotonic()

    def take(self):
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class Fake:
    def __init__(self, secrets, latency):
        self.secrets = secrets
        self.latency = latency
        self.buckets = {api: Bucket(rate) for api, rate in QUOTAS.items()}
        self.requests = {api: 0 for api in QUOTAS}
        self.throttled = {api: 0 for api in QUOTAS}

    def entry(self, name):
        return {"Name": name, "ARN": f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbCdEf",
                "SecretString": self.secrets[name], "VersionId": "v1", "VersionStages": ["AWSCURRENT"]}

    def answer(self, api, body):
        if api not in QUOTAS:
            return 400, {"__type": "InvalidRequestException", "message": f"{api} is not served here"}, None
        self.requests[api] += 1
        if not self.buckets[api].take():
            self.throttled[api] += 1
            return 400, {"__type": "ThrottlingException", "message": "Rate exceeded"}, "ThrottlingException"
        if api == "GetSecretValue":
            name = body.get("SecretId", "")
            if name not in self.secrets:
                return 400, {"__type": "ResourceNotFoundException",
                             "message": "Secrets Manager can't find the specified secret."}, "ResourceNotFoundException"
            return 200, self.entry(name), None
        ids = body.get("SecretIdList", [])
        found = [self.entry(i) for i in ids if i in self.secrets]
        errors = [{"SecretId": i, "ErrorCode": "ResourceNotFoundException", "Message": "not found"}
                  for i in ids if i not in self.secrets]
        return 200, {"SecretValues": found, "Errors": errors}, None

    async def serve(self, reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                headers = {}
                for line in head.decode("latin-1").split("\r\n")[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                api = headers.get("x-amz-target", "").rpartition(".")[2]
                await asyncio.sleep(self.latency)
                status, payload, error_type = self.answer(api, json.loads(body or b"{}"))
                data = json.dumps(payload).encode()
                extra = f"x-amzn-ErrorType: {error_type}\r\n" if error_type else ""
                writer.write(
                    f"HTTP/1.1 {status} {'OK' if status == 200 else 'Bad Request'}\r\n"
                    f"Content-Type: application/x-amz-json-1.1\r\nContent-Length: {len(data)}\r\n"
                    f"x-amzn-RequestId: fleet\r\n{extra}\r\n".encode() + data
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.CancelledError, ConnectionError):
            pass
        finally:
            writer.close()


class Bao:
    """Root-token calls to an OpenBao dev server (seeding and counting tokens)."""

    def __init__(self, addr):
        self.addr = addr.rstrip("/")

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.addr}/v1/{path}", data=data, method=method,
                                         headers={"X-Vault-Token": "root"})
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
        return json.loads(text) if text else {}

    def live_tokens(self, role):
        """Tokens alive now that an AppRole login for `role` created."""
        keys = self.call("GET", "auth/token/accessors?list=true").get("data", {}).get("keys", [])
        alive = 0
        for accessor in keys:
            meta = self.call("POST", "auth/token/lookup-accessor", {"accessor": accessor})
            if (meta.get("data", {}).get("meta") or {}).get("role_name") == role:
                alive += 1
        return alive


def vault_setup(bao, role, names, secrets):
    bao.call("PUT", f"sys/policies/acl/{role}", {"policy": f'path "secret/data/{role}/*" {{ capabilities = ["read"] }}'})
    try:
        bao.call("POST", "sys/auth/approle", {"type": "approle"})
    except urllib.error.HTTPError:
        pass  # mounted already (scripts/testbed does)
    bao.call("POST", f"auth/approle/role/{role}", {"token_policies": [role], "token_ttl": "1h"})
    bao.call("POST", f"auth/approle/role/{role}/role-id", {"role_id": f"{role}-role"})
    bao.call("POST", f"auth/approle/role/{role}/custom-secret-id", {"secret_id": f"{role}-secret"})
    for n in names:
        bao.call("POST", f"secret/data/{n}", {"data": {"key": secrets[n]}})
    return {"HCP_VAULT_ADDR": bao.addr, "HCP_VAULT_APPROLE_ROLE_ID": f"{role}-role",
            "HCP_VAULT_APPROLE_SECRET_ID": f"{role}-secret"}


async def pod(command, work, env, expected):
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *command, cwd=work, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    wall = time.monotonic() - started
    ok = proc.returncode == 0 and out.decode() == expected
    return ok, proc.returncode, wall, err.decode()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--osenv", required=True)
    parser.add_argument("--pods", type=int, default=500)
    parser.add_argument("--refs", type=int, default=40)
    parser.add_argument("--latency-ms", type=float, default=20)
    parser.add_argument("--batch", choices=["true", "false"], default="true", help="aws_batch_reads")
    parser.add_argument("--args", default="", help="extra osenv arguments, e.g. '--splay 2'")
    parser.add_argument("--vault", metavar="ADDR", help="an OpenBao dev server (root token `root`): AppRole pods")
    args = parser.parse_args()
    if args.vault:
        return await vault_main(args)

    names = [f"fleet/key-{i:03}" for i in range(args.refs)]
    secrets = {n: f"value-of-{n}" for n in names}
    fake = Fake(secrets, args.latency_ms / 1000)
    server = await asyncio.start_server(fake.serve, "127.0.0.1", 0, limit=1 << 20, backlog=4096)
    port = server.sockets[0].getsockname()[1]

    work = Path(tempfile.mkdtemp(prefix="osenv-fleet-"))
    lines = ["general_settings:", "  key_management_system: aws_secret_manager"]
    if args.batch == "false":
        lines += ["  key_management_settings:", "    aws_batch_reads: false"]
    lines += [f"k{i:03}: os.environ/{n}" for i, n in enumerate(names)]
    (work / "config.yaml").write_text("\n".join(lines) + "\n")
    expected = "general_settings: {}\n" + "".join(f"k{i:03}: {secrets[n]}\n" for i, n in enumerate(names))
    env = {"PATH": os.environ.get("PATH", ""), "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
           "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "fleet", "AWS_SECRET_ACCESS_KEY": "fleet",
           "AWS_EC2_METADATA_DISABLED": "true"}
    command = [os.path.abspath(args.osenv), "render", "config.yaml", *args.args.split()]

    started = time.monotonic()
    results = await asyncio.gather(*(pod(command, work, env, expected) for _ in range(args.pods)))
    rollout = time.monotonic() - started
    server.close()

    ok, walls, codes = summary(results)
    p = lambda q: walls[min(len(walls) - 1, int(q * len(walls)))]  # noqa: E731
    total = args.pods * args.refs
    print(f"fleet: {args.pods} pods x {args.refs} references, aws_batch_reads: {args.batch}, "
          f"+{args.latency_ms:g} ms per request{', ' + args.args if args.args else ''}")
    print(f"  correct: {ok} of {args.pods}; exit codes: {dict(sorted(codes.items()))}")
    print(f"  wall per pod: p50 {p(0.5):.2f} s, p99 {p(0.99):.2f} s, max {walls[-1]:.2f} s; "
          f"rollout {rollout:.2f} s")
    for api in QUOTAS:
        print(f"  {api}: {fake.requests[api]} requests, {fake.throttled[api]} throttled")
    floor = total / QUOTAS["GetSecretValue"]
    print(f"  quota floor: {total} secrets at 10,000 GetSecretValue/s is {floor:.1f} s; the fake answered "
          f"{sum(fake.requests.values()) / rollout:.0f} requests/s on average (its own limit on this machine is the harness floor)")
    failures = [r[3] for r in results if not r[0]]
    if failures:
        print("  first failure:", failures[0].strip()[:500])
    return 0 if ok == args.pods else 1


async def vault_main(args):
    role = f"fleet{int(time.time())}"
    names = [f"{role}/key-{i:03}" for i in range(args.refs)]
    secrets = {n: f"value-of-{n}" for n in names}
    bao = Bao(args.vault)
    env = {"PATH": os.environ.get("PATH", ""), **vault_setup(bao, role, names, secrets)}
    work = Path(tempfile.mkdtemp(prefix="osenv-fleet-"))
    lines = ["general_settings:", "  key_management_system: hashicorp_vault"]
    lines += [f"k{i:03}: os.environ/{n}" for i, n in enumerate(names)]
    (work / "config.yaml").write_text("\n".join(lines) + "\n")
    expected = "general_settings: {}\n" + "".join(f"k{i:03}: {secrets[n]}\n" for i, n in enumerate(names))
    command = [os.path.abspath(args.osenv), "render", "config.yaml", *args.args.split()]
    before = bao.live_tokens(role)

    started = time.monotonic()
    results = await asyncio.gather(*(pod(command, work, env, expected) for _ in range(args.pods)))
    rollout = time.monotonic() - started
    after = bao.live_tokens(role)

    ok, walls, codes = summary(results)
    p = lambda q: walls[min(len(walls) - 1, int(q * len(walls)))]  # noqa: E731
    print(f"fleet: {args.pods} pods x {args.refs} references, OpenBao at {args.vault}, AppRole login"
          f"{', ' + args.args if args.args else ''}")
    print(f"  correct: {ok} of {args.pods}; exit codes: {dict(sorted(codes.items()))}")
    print(f"  wall per pod: p50 {p(0.5):.2f} s, p99 {p(0.99):.2f} s, max {walls[-1]:.2f} s; "
          f"rollout {rollout:.2f} s")
    print(f"  requests sent: {args.pods} logins, {args.pods * args.refs} KV reads, {args.pods} revocations "
          f"({args.pods * (args.refs + 2) / rollout:.0f} requests/s on average)")
    print(f"  login tokens of the role alive: {before} before, {after} after")
    failures = [r[3] for r in results if not r[0]]
    if failures:
        print("  first failure:", failures[0].strip()[:500])
    return 0 if ok == args.pods and after == before else 1


def summary(results):
    walls = sorted(r[2] for r in results)
    codes = {}
    for r in results:
        codes[r[1]] = codes.get(r[1], 0) + 1
    return sum(1 for r in results if r[0]), walls, codes


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
