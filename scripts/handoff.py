"""What `exec --watch --listen` buys and costs, measured side by side in one run:

1. Requests failed across a rotation, with the real LiteLLM proxy (`--litellm`, the pinned venv's
   `litellm`) in front of a fake provider, a client sending a chat request every 0.1 s (10/s,
   each on a new connection): restarted in place (`exec --watch`, the proxy on a fixed port),
   handed off (`--listen`), and handed off without overlap (`--listen --no-overlap`). The values
   come from an env file; the rotation is an edit of it.
2. The forwarder's added latency: sequential `GET`s to the same small HTTP server, directly and
   through `--listen` (p50/p99, on one kept-alive connection and on a new connection each).
3. Its throughput: one download of `--megabytes`, directly and through `--listen`.

    python3 scripts/handoff.py --osenv target/release/osenv --litellm "$(scripts/litellm-venv)/bin/litellm"

Prints Markdown for BENCHMARKS.md. Loopback only.
"""

import argparse
import http.server
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

MASTER_KEY = "sk-bench-master-4b1d"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Provider(http.server.ThreadingHTTPServer):
    """OpenAI-compatible chat completions answering "ok"; records each Authorization header."""

    daemon_threads = True

    def __init__(self):
        self.seen = []
        super().__init__(("127.0.0.1", 0), ProviderHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


class ProviderHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.server.seen.append(self.headers.get("authorization", ""))
        body = json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "fake",
                           "choices": [{"index": 0, "finish_reason": "stop",
                                        "message": {"role": "assistant", "content": "ok"}}],
                           "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def chat(port):
    body = b'{"model":"fake","messages":[{"role":"user","content":"hi"}]}'
    request = (f"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {MASTER_KEY}\r\n"
               f"content-type: application/json\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n").encode() + body
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.sendall(request)
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
        return int(answer.split(b" ", 2)[1])
    except (OSError, ValueError, IndexError):
        return 0


def alive(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /health/liveliness HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def wait(limit, done):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if done():
            return True
        time.sleep(0.1)
    return False


def rotation(osenv, litellm, mode):
    """Failed requests at 10/s from the rotation until 3 s after the provider saw the new key."""
    provider = Provider()
    work = Path(tempfile.mkdtemp(prefix="osenv-handoff-"))
    (work / "config.yaml").write_text(
        "model_list:\n  - model_name: fake\n    litellm_params:\n      model: openai/fake\n"
        f"      api_base: http://127.0.0.1:{provider.server_address[1]}/v1\n      api_key: os.environ/PROVIDER_KEY\n"
        "general_settings:\n  master_key: os.environ/LITELLM_MASTER_KEY\n")
    (work / ".env").write_text(f"PROVIDER_KEY=sk-old\nLITELLM_MASTER_KEY={MASTER_KEY}\n")
    (work / "home").mkdir()
    port = free_port()
    argv = [osenv, "exec", "--watch", "--watch-interval", "2s", "--grace", "40s"]
    if mode == "in place":
        argv += ["config.yaml", "--env-file", ".env", "--", litellm, "--config", "config.yaml",
                 "--host", "127.0.0.1", "--port", str(port)]
    else:
        argv += ["--listen", f"127.0.0.1:{port}"] + (["--no-overlap"] if mode == "no overlap" else [])
        argv += ["config.yaml", "--env-file", ".env", "--", litellm, "--config", "config.yaml"]
    env = {"PATH": os.environ["PATH"], "HOME": str(work / "home"), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    log = open(work / "osenv.log", "wb")
    process = subprocess.Popen(argv, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=log)
    try:
        if not wait(180, lambda: alive(port)):
            sys.exit(f"handoff: the proxy did not start ({mode}); see {work}/osenv.log")
        statuses = []
        stop = threading.Event()

        def client():
            while not stop.is_set():
                started = time.monotonic()
                status = chat(port)
                took = time.monotonic() - started
                statuses.append((status, took))
                time.sleep(max(0.0, 0.1 - took))

        thread = threading.Thread(target=client)
        thread.start()
        time.sleep(2)
        before = len(statuses)
        rotated = time.monotonic()
        (work / ".env").write_text(f"PROVIDER_KEY=sk-new\nLITELLM_MASTER_KEY={MASTER_KEY}\n")
        if not wait(240, lambda: provider.seen and provider.seen[-1] == "Bearer sk-new"):
            sys.exit(f"handoff: the new key never reached the provider ({mode}); see {work}/osenv.log")
        new_key_after = time.monotonic() - rotated
        time.sleep(3)
        stop.set()
        thread.join()
        window = statuses[before:]
        failed = sum(1 for s, _ in window if s != 200)
        slowest = max(t for _, t in window)
        return {"mode": mode, "requests": len(window), "failed": failed, "new_key_after": new_key_after,
                "slowest": slowest}
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
        provider.shutdown()


SERVER = r'''
import os, socket, threading
body = b"ok"
answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n" + body
blob = b"x" * (1 << 20)
def serve(conn):
    with conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pending = b""
        while True:
            data = conn.recv(65536)
            if not data:
                return
            pending += data
            while b"\r\n\r\n" in pending:
                head, pending = pending.split(b"\r\n\r\n", 1)
                path = head.split(b" ", 2)[1]
                if path.startswith(b"/bytes/"):
                    n = int(path[7:])
                    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % (n << 20))
                    for _ in range(n):
                        conn.sendall(blob)
                else:
                    conn.sendall(answer)
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind((os.environ.get("HOST", "127.0.0.1"), int(os.environ["PORT"])))
listener.listen(1024)
while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
'''


def request(sock, path):
    sock.sendall(f"GET {path} HTTP/1.1\r\nhost: x\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(65536)
        if not chunk:
            raise OSError("closed")
        head += chunk
    head, rest = head.split(b"\r\n\r\n", 1)
    length = int(head.split(b"content-length: ")[1].split(b"\r\n")[0])
    got = len(rest)
    buffer = bytearray(1 << 20)
    while got < length:
        n = sock.recv_into(buffer)
        if n == 0:
            raise OSError("closed")
        got += n


def connect(port):
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def latencies(port, count, fresh):
    out = []
    sock = None if fresh else connect(port)
    for _ in range(count):
        started = time.perf_counter()
        if fresh:
            with connect(port) as s:
                request(s, "/")
        else:
            request(sock, "/")
        out.append((time.perf_counter() - started) * 1000)
    if sock:
        sock.close()
    return out


def throughput(port, megabytes):
    with connect(port) as s:
        started = time.perf_counter()
        request(s, f"/bytes/{megabytes}")
        return megabytes / (time.perf_counter() - started)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def forwarder(osenv, count, megabytes):
    work = Path(tempfile.mkdtemp(prefix="osenv-forward-"))
    (work / "server.py").write_text(SERVER)
    (work / "config.yaml").write_text("api_key: os.environ/KEY\n")
    (work / ".env").write_text("KEY=value\n")
    direct_port, front_port = free_port(), free_port()
    direct = subprocess.Popen([sys.executable, "server.py"], cwd=work, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env={"PATH": os.environ["PATH"], "PORT": str(direct_port)})
    front = None
    try:
        log = open(work / "osenv.log", "wb")
        front = subprocess.Popen([osenv, "exec", "--watch", "--listen", f"127.0.0.1:{front_port}", "--ready", "/",
                                  "config.yaml", "--env-file", ".env", "--", sys.executable, "server.py"],
                                 cwd=work, env={"PATH": os.environ["PATH"]}, stdout=subprocess.DEVNULL, stderr=log)
        def answers(port):
            try:
                with connect(port) as s:
                    request(s, "/")
                return True
            except OSError:
                return False
        if not wait(30, lambda: answers(direct_port) and answers(front_port)):
            sys.exit(f"handoff: the servers did not start; see {work}/osenv.log")
        rows = []
        for fresh in (False, True):
            # Interleaved rounds, so both see the same machine.
            d, f = [], []
            for _ in range(5):
                d += latencies(direct_port, count // 5, fresh)
                f += latencies(front_port, count // 5, fresh)
            rows.append(("new connection each" if fresh else "one kept-alive connection", d, f))
        tput_d = statistics.median(throughput(direct_port, megabytes) for _ in range(3))
        tput_f = statistics.median(throughput(front_port, megabytes) for _ in range(3))
        return rows, (tput_d, tput_f)
    finally:
        direct.kill()
        if front:
            front.send_signal(signal.SIGTERM)
            try:
                front.wait(30)
            except subprocess.TimeoutExpired:
                front.kill()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--osenv", required=True)
    parser.add_argument("--litellm", help="the pinned venv's litellm; without it, only the forwarder is measured")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--megabytes", type=int, default=1024)
    args = parser.parse_args()
    args.osenv = str(Path(args.osenv).resolve())
    if args.litellm:
        args.litellm = str(Path(args.litellm).resolve())

    rows, (tput_d, tput_f) = forwarder(args.osenv, args.requests, args.megabytes)
    print(f"Forwarder latency, {args.requests} sequential `GET`s each way (interleaved rounds), milliseconds:\n")
    print("| connection | direct p50 | through osenv p50 | added p50 | direct p99 | through osenv p99 | added p99 |")
    print("|---|---|---|---|---|---|---|")
    for name, d, f in rows:
        p50d, p50f, p99d, p99f = percentile(d, 50), percentile(f, 50), percentile(d, 99), percentile(f, 99)
        print(f"| {name} | {p50d:.3f} | {p50f:.3f} | {p50f - p50d:+.3f} | {p99d:.3f} | {p99f:.3f} | {p99f - p99d:+.3f} |")
    print(f"\nThroughput, one {args.megabytes} MiB download (median of 3): direct {tput_d:,.0f} MiB/s, "
          f"through osenv {tput_f:,.0f} MiB/s ({tput_f / tput_d:.0%}).\n")

    if args.litellm:
        print("Requests failed across a rotation (real LiteLLM proxy, 10 chat requests/s, from the edit of the "
              "env file until 3 s after the provider saw the new key):\n")
        print("| mode | requests | failed | slowest request | new key at the provider after |")
        print("|---|---|---|---|---|")
        for mode in ("in place", "listen", "no overlap"):
            r = rotation(args.osenv, args.litellm, mode)
            name = {"in place": "`exec --watch` (restart in place)", "listen": "`--listen`",
                    "no overlap": "`--listen --no-overlap`"}[mode]
            print(f"| {name} | {r['requests']} | {r['failed']} | {r['slowest']:.1f} s | {r['new_key_after']:.1f} s |",
                  flush=True)


if __name__ == "__main__":
    main()
