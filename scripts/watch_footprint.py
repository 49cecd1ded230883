"""What a long-running watch costs the machine: the CPU `osenv exec --watch` uses while it waits,
and its memory over many checks (no growth).

    python3 scripts/watch_footprint.py --osenv target/release/osenv [--idle 60] [--checks 1000] [--refs 100]

No server needed: the values come from an env file. Idle: `exec --watch` (default 5-minute
interval) supervising `sleep`, its CPU time (user + system, from /proc) over `--idle` seconds.
Checks: `exec --watch --watch-interval 168h`, each check asked for with SIGHUP (osenv's "check now";
one at a time: the next HUP is sent once the previous check is logged), every one resolving
`--refs` names; the resident set size after the first 10 % of the checks and after all of them.
Prints a Markdown table for BENCHMARKS.md.
"""

import argparse
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path


def ticks(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def start(osenv, work, interval, verbose):
    argv = [osenv] + (["-v"] if verbose else []) + [
        "exec", "--watch", "--watch-interval", interval, "config.yaml", "--env-file", ".env", "--", "sleep", "100000"]
    log = open(work / "osenv.log", "wb")
    process = subprocess.Popen(argv, cwd=work, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                               env={"PATH": os.environ["PATH"]})
    return process, log


def checks_logged(work):
    return (work / "osenv.log").read_text(errors="replace").count("resolved names=")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--osenv", required=True)
    parser.add_argument("--idle", type=float, default=60)
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--refs", type=int, default=100)
    args = parser.parse_args()
    osenv = os.path.abspath(args.osenv)
    hz = os.sysconf("SC_CLK_TCK")
    work = Path(tempfile.mkdtemp(prefix="osenv-footprint-"))
    (work / "config.yaml").write_text(
        "model_list:\n" + "".join(
            f"  - model_name: m{i}\n    litellm_params:\n      model: openai/m{i}\n      api_key: os.environ/KEY_{i}\n"
            for i in range(args.refs)))
    (work / ".env").write_text("".join(f"KEY_{i}=sk-{i:04d}-value\n" for i in range(args.refs)))

    process, log = start(osenv, work, "5m", False)
    time.sleep(2)
    before = ticks(process.pid)
    time.sleep(args.idle)
    idle = (ticks(process.pid) - before) / hz
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    log.close()

    process, log = start(osenv, work, "168h", True)
    deadline = time.monotonic() + 60
    while checks_logged(work) < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    first = rss_kib(process.pid)
    early = None
    started = time.monotonic()
    for n in range(1, args.checks + 1):
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while checks_logged(work) < n + 1 and time.monotonic() < deadline:
            time.sleep(0.002)
        if n == max(1, args.checks // 10):
            early = rss_kib(process.pid)
    took = time.monotonic() - started
    done = checks_logged(work) - 1
    last = rss_kib(process.pid)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    log.close()

    print("| measure | value |")
    print("|---|---|")
    print(f"| CPU while idle, `exec --watch` (5 min interval), over {args.idle:.0f} s | "
          f"{idle:.2f} s ({100 * idle / args.idle:.3f} % of a core) |")
    print(f"| checks made ({args.refs} names each, SIGHUP one at a time) | {done} in {took:.1f} s "
          f"({1000 * took / max(done, 1):.1f} ms each) |")
    print(f"| resident memory after the first check | {first / 1024:.1f} MiB |")
    print(f"| after {max(1, args.checks // 10)} checks | {early / 1024:.1f} MiB |")
    print(f"| after {done} checks | {last / 1024:.1f} MiB (growth over the last 90 %: {(last - early) / 1024:+.2f} MiB) |")


if __name__ == "__main__":
    main()
