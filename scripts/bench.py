"""End-to-end benchmarks of `osenv render` against the test servers, side by side with LiteLLM's own
resolution of the same config; writes BENCHMARKS.md. Run through scripts/bench, which starts the
servers, builds the release binary and installs the pinned LiteLLM.

Each backend gets a latency-injecting proxy (scripts/latency_proxy.py) that holds every request for
the configured round-trip time and counts requests and the largest number in flight. osenv is
measured as a whole process (start-up included: wall time and peak RSS from wait4); LiteLLM as the
`ProxyConfig().get_config()` call its proxy makes at start-up (config load, secret-manager set-up,
`os.environ/` resolution), in its own process, *without* its ~3 s import time, which favours LiteLLM.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_mask  # noqa: E402  (a script beside this one)

ROOT = Path(__file__).resolve().parent.parent
ROLE_ID = "osenv-test-role"  # fixed by scripts/testbed_vault.py
SECRET_ID = "osenv-test-secret-id"


def http(method, url, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
    return json.loads(text) if text else None


class Proxy:
    def __init__(self, upstream, delay_ms, workdir):
        port_file = Path(workdir) / f"proxy-{upstream.rsplit(':', 1)[1]}.ports"
        host_port = upstream.split("://", 1)[1].rstrip("/")
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts/latency_proxy.py"), "--upstream", host_port,
             "--delay-ms", str(delay_ms), "--port-file", str(port_file)],
        )
        for _ in range(200):
            if port_file.exists() and port_file.read_text().strip():
                break
            time.sleep(0.05)
        port, control = port_file.read_text().split()
        self.url = f"http://127.0.0.1:{port}"
        self.control = f"http://127.0.0.1:{control}"

    def reset(self):
        http("POST", f"{self.control}/reset")

    def stats(self):
        return http("GET", f"{self.control}/stats")

    def stop(self):
        self.process.terminate()
        self.process.wait()


def measure(argv, env, runs, cwd):
    """Wall seconds and peak RSS (MB) of `runs` runs of argv; the output must be a success.

    The peak RSS comes from GNU time (`%M`), not from this process's wait4: a child's maximum RSS
    counts the pages it shared with its parent between fork and exec, which for a Python parent
    holding boto3 is tens of megabytes that osenv never used.
    """
    walls, rss = [], []
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run(
            ["/usr/bin/time", "-f", "osenv-bench-rss-kb=%M", *argv],
            env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        walls.append(time.perf_counter() - start)
        if out.returncode != 0:
            raise SystemExit(f"{argv} failed: {out.stderr[-2000:]}")
        kb = [l for l in out.stderr.splitlines() if l.startswith("osenv-bench-rss-kb=")][-1]
        rss.append(int(kb.split("=", 1)[1]) / 1024)
    return walls, rss


def summary(values):
    return statistics.median(values), min(values), max(values)


def config_for(names):
    lines = ["model_list:"]
    for i, name in enumerate(names):
        lines.append(f"  - model_name: model-{i}")
        lines.append(f"    litellm_params: {{model: openai/gpt-4o, api_key: os.environ/{name}}}")
    return "\n".join(lines) + "\n"


def seed_aws(moto, names):
    import boto3  # in the bench venv

    http("POST", f"{moto}/moto-api/reset")
    client = boto3.client(
        "secretsmanager", endpoint_url=moto, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
    )
    for name in names:
        client.create_secret(Name=name, SecretString=f"value-of-{name}")


def seed_vault(vault, names):
    for name in names:
        http("POST", f"{vault}/v1/secret/data/{name}", {"data": {"key": f"value-of-{name}"}}, {"X-Vault-Token": "root"})


def litellm_resolve(python, config, env, cwd):
    script = (
        "import asyncio, json, sys, time\n"
        "from litellm.proxy.proxy_server import ProxyConfig\n"
        "t = time.perf_counter()\n"
        "config = asyncio.run(ProxyConfig().get_config(config_file_path=sys.argv[1]))\n"
        "elapsed = time.perf_counter() - t\n"
        "values = [m['litellm_params']['api_key'] for m in config['model_list']]\n"
        "print(json.dumps({'seconds': elapsed, 'resolved': sum(1 for v in values if isinstance(v, str) and v.startswith('value-of-'))}))\n"
    )
    out = subprocess.run([python, "-c", script, config], env=env, cwd=cwd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"litellm failed: {out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def base_env():
    keep = ("PATH", "HOME", "LANG", "SSL_CERT_FILE")
    return {k: v for k, v in os.environ.items() if k in keep}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--osenv", required=True)
    parser.add_argument("--moto", required=True)
    parser.add_argument("--vault", required=True)
    parser.add_argument("--litellm-python", required=True)
    parser.add_argument("--rtt-ms", type=float, default=20.0)
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--litellm-runs", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--criterion", default="", help="criterion output to include")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="osenv-bench-"))
    rows, local = [], {}

    aws_proxy = Proxy(args.moto, args.rtt_ms, work)
    vault_proxy = Proxy(args.vault, args.rtt_ms, work)
    try:
        for n in sizes:
            names = [f"bench/key-{i:05d}" for i in range(n)]
            (work / "config.yaml").write_text(config_for(names))
            argv = [args.osenv, "render", "config.yaml", "--deadline", "60"]

            # AWS Secrets Manager.
            seed_aws(args.moto, names)
            env = base_env() | {
                "AWS_ENDPOINT_URL": aws_proxy.url, "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test", "AWS_EC2_METADATA_DISABLED": "true",
            }
            aws_config = "general_settings:\n  key_management_system: aws_secret_manager\n" + config_for(names)
            (work / "config.yaml").write_text(aws_config)
            measure(argv, env, 1, work)  # warm the page cache and moto
            aws_proxy.reset()
            walls, rss = measure(argv, env, args.runs, work)
            stats = aws_proxy.stats()
            row = {"backend": "aws_secret_manager", "n": n, "wall": summary(walls), "rss": max(rss),
                   "requests": stats["requests"] / args.runs, "in_flight": stats["max_in_flight"]}
            litellm_env = base_env() | {
                "AWS_REGION_NAME": "us-east-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                # LiteLLM's only endpoint override for Secrets Manager (it swaps `bedrock-runtime` for
                # `secretsmanager` in this URL, which has neither).
                "AWS_BEDROCK_RUNTIME_ENDPOINT": aws_proxy.url, "LITELLM_LOG": "ERROR",
                # No fetch of the model price list from GitHub at import.
                "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            }
            litellm_runs = args.litellm_runs if n <= 100 else 1
            aws_proxy.reset()
            results = [litellm_resolve(args.litellm_python, "config.yaml", litellm_env, work) for _ in range(litellm_runs)]
            lstats = aws_proxy.stats()
            assert all(r["resolved"] == n for r in results), results
            row["litellm"] = summary([r["seconds"] for r in results])
            row["litellm_requests"] = lstats["requests"] / litellm_runs
            rows.append(row)
            print(f"aws n={n}: osenv {row['wall'][0]*1000:.0f} ms, litellm {row['litellm'][0]*1000:.0f} ms", flush=True)

            # Vault (OpenBao), AppRole: one login, then the reads.
            vault_names = [f"app/{name}" for name in names]
            seed_vault(args.vault, vault_names)
            vault_config = "general_settings:\n  key_management_system: hashicorp_vault\n" + config_for(vault_names)
            (work / "config.yaml").write_text(vault_config)
            env = base_env() | {
                "HCP_VAULT_ADDR": vault_proxy.url, "HCP_VAULT_APPROLE_ROLE_ID": ROLE_ID,
                "HCP_VAULT_APPROLE_SECRET_ID": SECRET_ID,
            }
            measure(argv, env, 1, work)
            vault_proxy.reset()
            walls, rss = measure(argv, env, args.runs, work)
            stats = vault_proxy.stats()
            rows.append({"backend": "hashicorp_vault", "n": n, "wall": summary(walls), "rss": max(rss),
                         "requests": stats["requests"] / args.runs, "in_flight": stats["max_in_flight"]})
            print(f"vault n={n}: osenv {rows[-1]['wall'][0]*1000:.0f} ms", flush=True)

        # Local: 10,000 references from an env file; --version.
        n = 10_000
        names = [f"KEY_{i}" for i in range(n)]
        (work / "big.yaml").write_text(config_for(names))
        (work / "big.env").write_text("".join(f"{k}=value-{i}\n" for i, k in enumerate(names)))
        walls, rss = measure([args.osenv, "render", "big.yaml", "--env-file", "big.env"], base_env(), args.runs, work)
        local["render_10000"] = (summary(walls), max(rss))
        walls, rss = measure([args.osenv, "--version"], base_env(), 50, work)
        local["version"] = (summary(walls), max(rss))
        local["binary_mb"] = Path(args.osenv).stat().st_size / 1e6
        # `exec --mask` next to `cat`, in the same run.
        local["mask"] = bench_mask.run(str(Path(args.osenv).resolve()))
    finally:
        aws_proxy.stop()
        vault_proxy.stop()

    write(args, rows, local)


def ms(seconds):
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"


def machine():
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    return f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, {rustc}, osenv at `{commit}`"


TARGETS = {
    ("aws_secret_manager", 100): 0.100,
    ("aws_secret_manager", 1000): 0.300,
    ("hashicorp_vault", 100): 0.250,
    ("hashicorp_vault", 1000): 1.0,
}


def write(args, rows, local):
    out = [
        "# Benchmarks",
        "",
        "<!-- Generated by scripts/bench (scripts/bench.py); edit benches/NOTES.md instead. -->",
        "",
        f"Machine: {machine()}. Generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        "## End to end: `osenv render` against the test servers",
        "",
        f"`scripts/bench` (sizes {args.sizes}, {args.runs} runs each, {args.rtt_ms:.0f} ms added per request by "
        "`scripts/latency_proxy.py`). The servers are the test servers of `scripts/testbed`: moto for AWS Secrets "
        "Manager, the real OpenBao for Vault (AppRole login). osenv: whole process, release binary, start-up "
        "included, median (min–max) wall time and the largest peak RSS. LiteLLM 1.110.2: "
        "`ProxyConfig().get_config()`, the start-up path of its proxy, timed inside the process without its "
        "import time. Requests are per run, counted by the proxy.",
        "",
        "| backend | N | osenv wall | peak RSS | requests | max in flight | LiteLLM | LiteLLM requests | osenv / LiteLLM | target |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        med, lo, hi = r["wall"]
        target = TARGETS.get((r["backend"], r["n"]))
        target_text = "–" if target is None else f"≤ {ms(target)}: {'met' if med <= target else '**missed**'}"
        if "litellm" in r:
            lmed = r["litellm"][0]
            litellm = ms(lmed)
            lreq = f"{r['litellm_requests']:.0f}"
            ratio = f"{med / lmed:.3f} ({lmed / med:.0f}× faster)"
        else:
            litellm, lreq, ratio = "needs a licence", "–", "–"
        out.append(
            f"| {r['backend']} | {r['n']} | {ms(med)} ({ms(lo)}–{ms(hi)}) | {r['rss']:.1f} MB | {r['requests']:.0f} | "
            f"{r['in_flight']} | {litellm} | {lreq} | {ratio} | {target_text} |"
        )
    (rmed, _, _), rrss = local["render_10000"]
    (vmed, _, _), vrss = local["version"]
    out += [
        "",
        "LiteLLM reads Vault only with an enterprise licence (`premium_user`), so its Vault path is not measured.",
        "",
        "## Local",
        "",
        "| what | median wall | peak RSS | target |",
        "|---|---|---|---|",
        f"| `osenv render` of 10,000 references from a 10,000-line `--env-file` | {ms(rmed)} | {rrss:.1f} MB | < 50 ms: {'met' if rmed < 0.05 else '**missed**'} |",
        f"| `osenv --version` (50 runs) | {ms(vmed)} | {vrss:.1f} MB | < 5 ms: {'met' if vmed < 0.005 else '**missed**'} |",
        f"| release binary, every backend, stripped | {local['binary_mb']:.1f} MB | – | < 20 MB: {'met' if local['binary_mb'] < 20 else '**missed**'} |",
        "",
    ]
    if "mask" in local:
        out += [bench_mask.START, bench_mask.section(local["mask"]), bench_mask.END, ""]
    if args.criterion and Path(args.criterion).exists():
        out += ["## Parse + walk + render (criterion)", "", "`cargo bench --bench render` (release profile):", "", "```text"]
        lines = [l.rstrip() for l in Path(args.criterion).read_text().splitlines() if "time:" in l or l.startswith(("render_", "parse_", "dotenv_"))]
        out += lines
        out += ["```", ""]
    notes = ROOT / "benches/NOTES.md"
    if notes.exists():
        out.append(notes.read_text().rstrip() + "\n")
    Path(args.out).write_text("\n".join(out))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
