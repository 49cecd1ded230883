"""Chaos harness for osenv's watch modes: random runs of `exec --watch` and `render --watch`
against a Vault fake on loopback that can rotate a value and make reads hang, with signal storms
at random moments (during a check, a restart, a grace period, a hook), commands that ignore
SIGTERM, leave a background process, exit at once or fail at start, hooks that hang, osenv as
PID 1 in a PID namespace (`unshare`), and, when moto is at hand (`--moto`, default
$OSENV_TEST_MOTO), runs against AWS Secrets Manager whose credentials come from a
`credential_process` the SDK runs again during checks. After every run it asserts:

  - the exit code is the one documented for what happened;
  - osenv ended within its bound after the stop signal;
  - no process of the run is left (everything osenv starts carries a marker variable);
  - no zombie child of osenv's while it ran;
  - no Vault token is left (every login revoked) and no temp file in the output directory;
  - osenv used under 5 % of a core while it waited;
  - a rotation was applied once the backend answered again;
  - the credential process ran during checks (its status is the SDK's; osenv never takes it).

    python3 scripts/chaos.py --osenv target/debug/osenv --seconds 60 [--seed N]

Prints one line per run and exits non-zero on the first broken invariant (with the run's log).
Only loopback traffic; every loop is bounded.
"""

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class Vault:
    """KV v2 reads of one secret, AppRole logins whose tokens are tracked until revoked."""

    def __init__(self):
        self.value = "v0"
        self.hang = False
        self.live = set()
        self.logins = 0
        self.lock = threading.Lock()
        vault = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, status, body=None):
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                token = self.headers.get("x-vault-token", "")
                with vault.lock:
                    if self.path == "/v1/auth/approle/login":
                        vault.logins += 1
                        token = f"tok-{vault.logins}"
                        vault.live.add(token)
                        return self.reply(200, {"auth": {"client_token": token, "accessor": token,
                                                         "lease_duration": 3600, "renewable": True}})
                    if self.path == "/v1/auth/token/revoke-self":
                        vault.live.discard(token)
                        return self.reply(204)
                    if self.path == "/v1/auth/token/renew-self":
                        return self.reply(200, {"auth": {"client_token": token, "lease_duration": 3600,
                                                         "renewable": True}})
                return self.reply(404, {"errors": []})

            def do_GET(self):
                token = self.headers.get("x-vault-token", "")
                deadline = time.monotonic() + 30
                while vault.hang and time.monotonic() < deadline:
                    time.sleep(0.05)
                with vault.lock:
                    if token not in vault.live:
                        return self.reply(403, {"errors": ["permission denied"]})
                    if self.path.startswith("/v1/secret/data/"):
                        return self.reply(200, {"data": {"data": {"key": vault.value},
                                                         "metadata": {"version": 1}}})
                return self.reply(404, {"errors": []})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # A read that hung past osenv's deadline is answered into a closed connection.
        self.server.handle_error = lambda *_: None
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def moto_put(url, name, value, create=False):
    """Create or rotate a secret in moto (the testbed's AWS), by the JSON protocol; moto does
    not check signatures."""
    target = "CreateSecret" if create else "PutSecretValue"
    body = {"Name": name, "SecretString": value} if create else {"SecretId": name, "SecretString": value}
    request = urllib.request.Request(url + "/", data=json.dumps(body).encode(), headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"secretsmanager.{target}",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/secretsmanager/aws4_request, "
                         "SignedHeaders=host, Signature=0"})
    urllib.request.urlopen(request, timeout=10).read()


# A credential process the AWS SDK runs during checks (its credentials expire at once, so it
# is run again): its status is the SDK's to wait for, never osenv's.
CREDENTIAL_PROCESS = """#!/bin/sh
echo run >> "$(dirname "$0")/creds.count"
printf '{"Version":1,"AccessKeyId":"test","SecretAccessKey":"test","Expiration":"%s"}' "$(date -u -d '+5 sec' +%Y-%m-%dT%H:%M:%SZ)"
"""


# What the command does, and the exit code a stop gives (None: it ends by itself with `code`).
COMMANDS = {
    "steady": ("trap 'exit 0' TERM INT QUIT; trap '' USR1 USR2", 0),
    "ignores-term": ("trap '' TERM INT QUIT USR1 USR2", 137),
    "forks": ("trap 'exit 0' TERM INT QUIT; trap '' USR1 USR2; sleep 1000 &", 0),
    "slow-term": ("trap 'sleep 0.3; exit 0' TERM INT QUIT; trap '' USR1 USR2", 0),
    "instant": ("exit 0", None),
    "fails": ("exit 3", None),
}
HOOKS = {"none": None, "quick": "true", "hangs": "exec sleep 1000", "fails": "exit 2"}
STOPS = {"TERM": 15, "INT": 2, "QUIT": 3, "ALRM": 14}
STORM = ["HUP", "USR1", "USR2", "HUP", "CHLD", "WINCH"]


def proc_stat(pid):
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(") ", 1)[1].split()


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        fields = proc_stat(pid)
        if fields:
            total += int(fields[11]) + int(fields[12])
    return total


def children(pid):
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def marked(marker):
    needle = f"CHAOS_RUN={marker}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            env = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if needle in env.split(b"\0"):
            found.append(int(entry))
    return found


def can_unshare():
    try:
        return subprocess.run(["unshare", "--user", "--map-root-user", "--pid", "--fork", "true"],
                              capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class Broken(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serves(port, limit=10):
    """Whether `GET /` through osenv's port answers 200 within `limit` seconds."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
                s.settimeout(3)
                s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                if s.recv(16).startswith(b"HTTP/1.0 200"):
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def one_run(args, rng, index, pid1_ok):
    vault = Vault()
    work = Path(tempfile.mkdtemp(prefix="osenv-chaos-"))
    mode = rng.choice(["exec", "exec", "render"])
    kind = rng.choice(list(COMMANDS)) if mode == "exec" else None
    hook = rng.choice(list(HOOKS)) if mode == "render" else "none"
    pid1 = pid1_ok and rng.random() < 0.3
    stop = rng.choice(list(STOPS))
    marker = f"{os.getpid()}-{index}"
    # With moto at hand, some runs read AWS Secrets Manager with a credential process instead.
    aws = args.moto and rng.random() < 0.3
    name = f"CHAOS_{os.getpid()}_{index}" if aws else "KEY"
    (work / "config.yaml").write_text(
        f"general_settings:\n  key_management_system: {'aws_secret_manager' if aws else 'hashicorp_vault'}\n"
        f"api_key: os.environ/{name}\n")
    argv = [args.osenv, "-v", mode, "--watch", "--watch-interval", "1s", "--deadline", "5"]
    # Some exec runs own a port (`--listen`): each generation serves it with a small HTTP server
    # in its process group, and a rotation is a hand-off (sometimes without overlap).
    listen = free_port() if mode == "exec" and rng.random() < 0.4 else None
    if mode == "exec":
        script, _ = COMMANDS[kind]
        serve = ""
        if listen:
            argv += ["--listen", f"127.0.0.1:{listen}", "--ready", "/", "--ready-timeout", "5s"]
            argv += ["--no-overlap"] if rng.random() < 0.3 else []
            serve = f'{sys.executable} -m http.server "$PORT" --bind "$HOST" >/dev/null 2>&1 &\n'
        argv += ["--grace", "1s", "config.yaml", "--", "sh", "-c",
                 f'{serve}echo "start ${name}" >> seen\n{script}\nwhile :; do sleep 0.1; done']
    else:
        argv += ["-o", "out/config.yaml", "config.yaml"]
        (work / "out").mkdir()
        if HOOKS[hook]:
            argv += ["--on-change-timeout", "2s", "--on-change", HOOKS[hook]]
    if pid1:
        argv = ["unshare", "--user", "--map-root-user", "--pid", "--fork"] + argv
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CHAOS_RUN": marker,
           "HCP_VAULT_ADDR": vault.url, "HCP_VAULT_APPROLE_ROLE_ID": "r", "HCP_VAULT_APPROLE_SECRET_ID": "s"}
    if aws:
        (work / "creds.sh").write_text(CREDENTIAL_PROCESS)
        (work / "creds.sh").chmod(0o755)
        (work / "aws-config").write_text(f"[default]\ncredential_process = {work / 'creds.sh'}\n")
        env.update({"AWS_ENDPOINT_URL": args.moto, "AWS_REGION": "us-east-1",
                    "AWS_CONFIG_FILE": str(work / "aws-config"), "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
                    "AWS_EC2_METADATA_DISABLED": "true"})
        moto_put(args.moto, name, "v0", create=True)

        class Rotating:
            """The secret's value in moto, set like the Vault fake's."""

            def __setattr__(self, key, value):
                if key == "value":
                    moto_put(args.moto, name, value)
                object.__setattr__(self, key, value)

        source = Rotating()
        source.hang = False
    else:
        source = vault
    # Sometimes the first check hangs, and the stop comes before anything started.
    first_hangs = not aws and rng.random() < 0.15
    vault.hang = first_hangs
    log = open(work / "osenv.log", "wb")
    process = subprocess.Popen(argv, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=log)
    describe = (f"run {index}: {mode} {kind or 'hook=' + hook} pid1={pid1} stop={stop}{' aws' if aws else ''}"
                f"{' listen' if listen else ''}")
    started = False

    def target():
        if not pid1:
            return process.pid
        kids = children(process.pid)
        return kids[0] if kids else None

    def ours():
        t = target()
        return [t] + (children(t) if pid1 and t else []) if t else []

    def send(name):
        t = target()
        if t:
            try:
                os.kill(t, getattr(signal, "SIG" + name))
            except ProcessLookupError:
                pass

    def stop_and_wait(when):
        """Send the stop signal; osenv's exit code and how long it took (at most 15 s)."""
        send(stop)
        asked = time.monotonic()
        try:
            code = process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            fail(f"did not end within 15 s of SIG{stop} {when}".rstrip())
        return code, time.monotonic() - asked

    def fail(why):
        log.flush()
        text = (work / "osenv.log").read_text(errors="replace")[-4000:]
        raise Broken(f"{describe}: {why}\n--- log ---\n{text}")

    try:
        if first_hangs:
            time.sleep(0.3 + rng.random() * 1.5)
            code, took = stop_and_wait("during the first check")
            if took > 3:
                fail(f"took {took:.1f}s to end during the first check")
            expected = {0} if mode == "render" else {128 + STOPS[stop]}
            if code not in expected or (work / "seen").exists():
                fail(f"exit code {code} (expected {sorted(expected)}) or a command started")
            if vault.live:
                fail(f"Vault tokens left: {sorted(vault.live)}")
            print(f"ok   {describe}: stopped during the first check, exit {code}", flush=True)
            return
        end = time.monotonic() + 3 + rng.random() * 2
        while time.monotonic() < end and process.poll() is None:
            time.sleep(0.05)
        ended_alone = process.poll() is not None
        if not ended_alone:
            # The storm: signals, rotations and hanging reads at random moments.
            for _ in range(rng.randint(0, 8)):
                what = rng.random()
                if what < 0.5:
                    send(rng.choice(STORM))
                elif what < 0.75:
                    source.value = f"v{rng.randint(1, 5)}"
                else:
                    source.hang = not source.hang
                time.sleep(rng.random() * 0.8)
                if process.poll() is not None:
                    break
            # Reachable again with a new value: it must be applied.
            source.hang = False
            final = f"final{index}"
            source.value = final
        if process.poll() is None:
            if kind in ("instant", "fails"):
                fail("still running although its command ended")

            def applied():
                if mode == "exec":
                    seen = (work / "seen").read_text().splitlines() if (work / "seen").exists() else []
                    return seen and seen[-1] == f"start {final}"
                out = work / "out" / "config.yaml"
                return out.exists() and final in out.read_text()

            end = time.monotonic() + 12
            while time.monotonic() < end and not applied():
                time.sleep(0.1)
            if not applied():
                fail("the rotation was not applied once the backend answered")
            if listen and not serves(listen):
                fail(f"nothing answers on the --listen port {listen} after the rotation")
            started = True
            # Idle: no zombie child, little CPU.
            time.sleep(1.2)
            for pid in ours():
                for child in children(pid):
                    fields = proc_stat(child)
                    if fields and fields[0] == "Z" and child not in ours():
                        fail(f"zombie {child} under {pid}")
            before = cpu_ticks(ours())
            time.sleep(2)
            used = cpu_ticks(ours()) - before
            if used >= 10:
                fail(f"{used} ticks of CPU in 2 s while idle")
            if kind == "ignores-term" and rng.random() < 0.5:
                source.hang = True  # the stop comes during a hanging check too
            code, took = stop_and_wait("")
            bound = 5 + (1 if kind == "ignores-term" else 0) + (2 if hook == "hangs" else 0)
            if took > bound:
                fail(f"took {took:.1f}s to end after SIG{stop} (bound {bound}s)")
        else:
            code = process.returncode
        if aws and started:
            runs = len((work / "creds.count").read_text().splitlines()) if (work / "creds.count").exists() else 0
            if runs < 2:
                fail(f"the credential process ran {runs} time(s): not during checks")
        # The documented exit code.
        seen = (work / "seen").read_text().splitlines() if (work / "seen").exists() else []
        if mode == "render":
            expected = {0}
        else:
            _, on_stop = COMMANDS[kind]
            expected = {COMMANDS[kind][1]} if on_stop is not None else {0 if kind == "instant" else 3}
            if not seen:
                expected.add(128 + STOPS[stop])
        if code not in expected:
            fail(f"exit code {code}, expected one of {sorted(expected)} (seen {seen[-3:]})")
        # Nothing left behind.
        end = time.monotonic() + 3
        while time.monotonic() < end and marked(marker):
            time.sleep(0.05)
        if marked(marker):
            fail(f"left running: {marked(marker)}")
        if vault.live:
            fail(f"Vault tokens left: {sorted(vault.live)}")
        if mode == "render":
            left = sorted(p.name for p in (work / "out").iterdir() if p.name != "config.yaml")
            if left:
                fail(f"files left in the output directory: {left}")
        print(f"ok   {describe}: exit {code}{'' if started else ' (ended on its own)'}", flush=True)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in marked(marker):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        vault.server.shutdown()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--osenv", required=True)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--moto", default=os.environ.get("OSENV_TEST_MOTO"),
                        help="moto's URL: some runs then read AWS Secrets Manager with a credential process")
    args = parser.parse_args()
    args.osenv = os.path.abspath(args.osenv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    print(f"chaos: seed {seed}, {args.seconds:.0f} s", flush=True)
    rng = random.Random(seed)
    pid1_ok = can_unshare()
    if not pid1_ok:
        print("chaos: unshare --user --pid is not available here; no PID 1 runs", flush=True)
    end = time.monotonic() + args.seconds
    index = 0
    try:
        while time.monotonic() < end:
            one_run(args, rng, index, pid1_ok)
            index += 1
    except Broken as broken:
        print(f"FAIL {broken}", flush=True)
        print(f"chaos: failed at run {index}; again with --seed {seed}", flush=True)
        sys.exit(1)
    print(f"chaos: ok, {index} runs", flush=True)


if __name__ == "__main__":
    main()
