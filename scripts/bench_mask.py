#!/usr/bin/env python3
"""`osenv exec --mask` throughput and per-line latency, side by side with the same pipeline without osenv.

Throughput: 100 values (each in every form --mask knows: raw, base64 both alphabets with and without padding,
JSON, URL encoding, Python repr), a 200 MB log whose lines carry a value about once per 1,000 lines, and
  osenv exec --mask … -- cat LOG > /dev/null     (cat → pipe → osenv → /dev/null)
against
  sh -c 'cat LOG | cat > /dev/null'               (cat → pipe → cat → /dev/null)
the same bytes through one pipe and one more process. Best of `runs` (the machine's noise is one-sided).

Latency: a command writing one short line every 2 ms (500 lines) with its CLOCK_MONOTONIC time in it; the reader
takes the time each line arrives. Through osenv, and the same command read directly; the difference is what
--mask adds per line.

Run by scripts/bench (its results go into BENCHMARKS.md), or alone:
  scripts/bench_mask.py --osenv target/release/osenv [--size-mb 200] [--update BENCHMARKS.md]
"""

import argparse
import base64
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

VALUES = 100
TARGET_GBPS = 1.0


def forms(value):
    raw = value.encode()
    b64 = base64.b64encode(raw).decode()
    url = base64.urlsafe_b64encode(raw).decode()
    return [value, b64, b64.rstrip("="), url, url.rstrip("="), json.dumps(value)[1:-1],
            urllib.parse.quote(value, safe=""), repr(value)[1:-1]]


def setup(work, size_mb):
    rng = random.Random(7)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    values = {f"KEY_{i:03d}": "sk-" + "".join(rng.choice(alphabet) for _ in range(40)) for i in range(VALUES)}
    (work / "config.yaml").write_text("".join(f"k{i}: os.environ/{name}\n" for i, name in enumerate(values)))
    (work / "values.env").write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    every = [f for v in values.values() for f in forms(v)]
    lines = []
    size = 0
    i = 0
    while size < 1 << 20:
        line = (f"2026-12-07T12:00:{i % 60:02d}.{i % 1000:03d}Z INFO litellm.proxy request_id=req-{i:08x} "
                f"POST /v1/chat/completions model=gpt-4o status=200 latency_ms={i % 997} user=team-{i % 13}")
        if i % 1000 == 999:
            line += " api_key=" + rng.choice(every)
        line += "\n"
        lines.append(line)
        size += len(line)
        i += 1
    block = "".join(lines).encode()
    log = work / "big.log"
    with log.open("wb") as f:
        for _ in range(size_mb):
            f.write(block)
    return log, values


def best(argv, runs, **kw):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)
        times.append(time.perf_counter() - start)
        if out.returncode != 0:
            raise SystemExit(f"{argv} failed: {out.stderr[-2000:]!r}")
    return min(times)


LINES = r"""
import sys, time
for i in range(500):
    sys.stdout.write(f"{time.monotonic_ns()} line {i} nothing secret\n")
    sys.stdout.flush()
    time.sleep(0.002)
"""


def latencies(argv, env, cwd):
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=cwd)
    seen = []
    for line in proc.stdout:
        now = time.monotonic_ns()
        seen.append((now - int(line.split()[0])) / 1e6)
    proc.wait()
    seen.sort()
    return statistics.median(seen), seen[int(len(seen) * 0.99) - 1]


def run(osenv, size_mb=200, runs=5):
    with tempfile.TemporaryDirectory(prefix="osenv-mask-bench-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as d:
        work = Path(d)
        log, _ = setup(work, size_mb)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        masked = [osenv, "exec", "--mask", "config.yaml", "--env-file", "values.env", "--"]
        # The output must be masked: a sample through osenv shows no value.
        sample = subprocess.run([*masked, "head", "-c", "2000000", str(log)], capture_output=True, env=env, cwd=work)
        values = dict(l.split("=", 1) for l in (work / "values.env").read_text().split())
        assert sample.returncode == 0, sample.stderr
        assert b"<KEY_" in sample.stdout and not any(v.encode() in sample.stdout for v in values.values())
        size = log.stat().st_size
        base = best(["sh", "-c", f"cat '{log}' | cat > /dev/null"], runs, env=env, cwd=work)
        through = best([*masked, "cat", str(log)], runs, env=env, cwd=work)
        python = sys.executable
        direct = latencies([python, "-c", LINES], env, work)
        via = latencies([*masked, python, "-c", LINES], env, work)
        return {
            "size_mb": size / 1e6, "patterns": VALUES, "cat_s": base, "mask_s": through,
            "cat_gbps": size / base / 1e9, "mask_gbps": size / through / 1e9,
            "direct_ms": direct, "mask_ms": via,
        }


def section(r):
    gbps = r["mask_gbps"]
    return "\n".join([
        "## `exec --mask` (throughput and latency)",
        "",
        f"`scripts/bench_mask.py`: {r['patterns']} values of 43 bytes, each in every form `--mask` matches (raw, "
        f"base64 in both alphabets with and without padding and at every alignment, JSON, URL encoding, Python repr), "
        f"a {r['size_mb']:.0f} MB log (a value in some form about once per 1,000 lines), best of 5, measured in one run:",
        "",
        "| pipeline | wall | throughput | target |",
        "|---|---|---|---|",
        f"| `sh -c 'cat LOG \\| cat > /dev/null'` (one pipe, one process more) | {r['cat_s']:.3f} s | {r['cat_gbps']:.2f} GB/s | – |",
        f"| `osenv exec --mask … -- cat LOG > /dev/null` | {r['mask_s']:.3f} s | {gbps:.2f} GB/s | ≥ {TARGET_GBPS:.0f} GB/s: {'met' if gbps >= TARGET_GBPS else '**missed**'} |",
        "",
        "| a line every 2 ms (500 lines), time from write to read | median | p99 |",
        "|---|---|---|",
        f"| read directly | {r['direct_ms'][0]:.3f} ms | {r['direct_ms'][1]:.3f} ms |",
        f"| through `osenv exec --mask` | {r['mask_ms'][0]:.3f} ms | {r['mask_ms'][1]:.3f} ms |",
        "",
    ])


START, END = "<!-- mask:start -->", "<!-- mask:end -->"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--osenv", required=True)
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--update", help="replace the --mask section of this BENCHMARKS.md")
    args = parser.parse_args()
    r = run(str(Path(args.osenv).resolve()), args.size_mb)
    text = section(r)
    print(text)
    if args.update:
        path = Path(args.update)
        doc = path.read_text()
        block = f"{START}\n{text}\n{END}"
        if START in doc:
            doc = doc[: doc.index(START)] + block + doc[doc.index(END) + len(END):]
        else:
            marker = "## Parse + walk + render"
            at = doc.index(marker) if marker in doc else len(doc)
            doc = doc[:at] + block + "\n\n" + doc[at:]
        path.write_text(doc)


if __name__ == "__main__":
    main()
