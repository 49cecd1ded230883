"""Differential test of osenv against LiteLLM's own resolver and python-dotenv.

For each generated case (a config, maybe included files, an environment, maybe an env file):
- LiteLLM: `ProxyConfig._get_config_from_file` (PyYAML + includes) and
  `_check_for_os_environ_vars` (with `get_secret` recorded, so the names it asks for are known);
- osenv: `osenv render --allow-missing` and `osenv check --format json --offline`;
- then: the rendered text loaded with PyYAML equals LiteLLM's result (type-strict: `True` is not
  `1`); LiteLLM's resolver changes nothing in the rendered file; the names `check` lists are the
  names LiteLLM asked for; a config LiteLLM cannot load does not render; a config it loads renders,
  except where osenv fails closed on purpose (README, "Where osenv differs from LiteLLM").
- `--env-file`: python-dotenv's `dotenv_values` (interpolating, with the process environment
  winning) against what `osenv env --format json` reads from the same file.
- `ast.literal_eval` booleans (LiteLLM's coercion with a manager): a table checked by
  `cargo test python::against_cpython -- --ignored`.

    python scripts/differential.py --osenv target/debug/osenv --cases 3000 [--seed N]

Exit status 1 on any difference, with each case written under --keep for a look.
"""

import argparse
import ast
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# LiteLLM logs and phones home at import; neither matters here.
os.environ.setdefault("LITELLM_LOG", "CRITICAL")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import logging  # noqa: E402

import yaml  # noqa: E402
from dotenv import dotenv_values  # noqa: E402
from litellm.proxy import proxy_server  # noqa: E402
from litellm.proxy.proxy_server import ProxyConfig  # noqa: E402
from litellm.proxy.auth import master_key_boot_check as boot  # noqa: E402
from litellm.secret_managers.main import get_secret, get_secret_bool  # noqa: E402
from pydantic import TypeAdapter, ValidationError  # noqa: E402
from typing import Mapping  # noqa: E402

# `load_config` reads the config through this view, and `general_settings` (None as `{}`) with
# `.get` and the same view: a key that is not a string, or a `general_settings` that is not a
# mapping, fails at boot.
NAMES_VIEW = TypeAdapter(Mapping[str, object])

# python-dotenv warns about each line it skips; the comparison already covers them.
logging.getLogger("dotenv.main").setLevel(logging.ERROR)

# The places where osenv refuses on purpose what LiteLLM runs with (each in the README).
FAIL_CLOSED = (
    "duplicate key",  # PyYAML keeps the last silently
    "itself starts with `os.environ/`",  # LiteLLM would resolve it again
    "is anchored and used both",  # one text cannot hold both readings
    "is a block scalar",  # a multi-line reference names a key nobody has
    "the name contains",  # a control character or `=`: no variable has such a name
    "the name after `os.environ/` is empty",
    "a second YAML document",  # PyYAML's safe_load refuses it too, with another message
    "a leading `?` makes a mapping key",  # `[?a]`: a key to PyYAML, a string to YAML 1.2
    "python-dotenv cannot parse",  # python-dotenv skips the line with a warning
    "Included config file is not a YAML mapping",
    "would be separated from its other half",  # an alias across text the merge moves
    "outside the config's directory",  # includes stay below the root config
    "reads this differently",  # U+0085/U+2028/U+2029: line breaks to PyYAML only
)

NAMES = ["A", "B", "C", "KEY", "db_url", "X1", "app/db", "a-b", "Ü", "OTHER"]
VALUES = [
    "sk-abc123", "true", "True", " FALSE ", "false", "yes", "no", "on", "1", "0", "0x10", "1e3", "1_000",
    "None", "null", "~", "", " ", "x: y", "# c", "a\nb", "'q'", '"dq"', "[1, 2]", "{a: 1}", "true\x1c",
    "ünï", "  spaced  ", "tab\there", "back\\slash", "2001-12-14", "-", "?", ":", "*a", "&a", "!t", "%x",
    "@x", "`x`", "|", ">", "a #b", "true\u3000", "\u00a0true", "(True)", "True # c",
]
SCALARS = ["plain", "1", "true", "yes", "~", "0x1f", "1.5", "'q'", '"d"', "os.environ", "x os.environ/A", "017", "08",
           "1:30", "-.inf", "2001-12-14", "'2001-13-01'", "\"2001-12-14 21:59:43.10 -5\"", "0b2", "'Off'", "1_000"]
KEYS = ["api_key", "api_base", "token_ref", "anthropic_issuer_signing_key_ref",
        "anthropic_keycloak_client_secret_ref", "master_key", "database_url", "k", "x_ref", "model",
        "dangerously_permit_weak_or_unset_master_key"]
# What LiteLLM's master-key boot verdict reads from the environment, and values it tells apart.
BOOT_NAMES = ["LITELLM_MASTER_KEY", "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY", "LITELLM_SALT_KEY",
              "DATABASE_URL"]
MASTER_KEYS = ["os.environ/KEY", "os.environ/A", "os.environ/LITELLM_MASTER_KEY", "sk-1234", "' sk-1234 '", "''",
               "~", "1234", "true", "'true'", "sk-7f3c9e", "[a]"]
OVERRIDE = "dangerously_permit_weak_or_unset_master_key"
BOOT_VALUES = ["sk-1234", " sk-1234\n", "SK-1234", "sk-12345", "\x1csk-1234", "sk-7f3c9e", "", " ", "true",
               " TRUE ", "False", "yes", "1"]


# `oidc/` names: LiteLLM fetches these itself, and raises while loading on what it cannot. Only
# providers that need no network and open no file once accepted (tests/osenv/oidc.rs has the rest).
OIDC = ["oidc/env/", "oidc/circleci/", "oidc/circleci_v2/", "oidc/nope/", "oidc/file/rel/", "oidc/file//etc/"]


def reference(rng):
    name = rng.choice(NAMES)
    if rng.random() < 0.05:
        name = rng.choice(OIDC) + name
    elif rng.random() < 0.005:
        name = rng.choice(["oidc/env", "oidc/"])
    if rng.random() < 0.03:
        name = "os.environ/" + name
    text = "os.environ/" + name
    style = rng.random()
    if style < 0.6:
        return text
    if style < 0.8:
        return "'" + text + "'"
    if style < 0.9:
        return '"' + text + '"'
    return rng.choice(["!!str ", "! ", "!!null "]) + text


def scalar(rng):
    if rng.random() < 0.5:
        return reference(rng)
    text = rng.choice(SCALARS)
    return tag(rng) + text if rng.random() < 0.15 else text


def tag(rng):
    """A standard tag: PyYAML constructs the value under it, or refuses the whole config."""
    return rng.choice(["!!str ", "! ", "!!str ", "!!int ", "!<tag:yaml.org,2002:str> ", "!!bool ", "!!float ",
                       "!!null ", "!!timestamp "])


def key_text(rng, key):
    """A mapping key, sometimes tagged: `!!str api_key` is the key `api_key` to PyYAML."""
    return tag(rng).replace("!!int ", "!!str ") + key if rng.random() < 0.08 else key


def lax(rng, indent):
    """A value PyYAML loads and YAML 1.2 refuses (or the other way round): `-` and `?` in flow
    context, continuation lines indented less than the parent, tabs there."""
    under = " " * rng.randint(0, indent) + rng.choice(["", "", "\t"])
    pick = rng.randrange(7)
    if pick == 0:
        return f"[{scalar(rng)}, -,\n{under}{scalar(rng)}]"
    if pick == 1:
        return f"{{a: -, b: {scalar(rng)}}}  # [-]"
    if pick == 2:
        quote = rng.choice(["'", '"'])
        first = rng.choice(["os.environ/A", "abc", "[-]", ""])
        return f"{quote}{first}\n{under}{rng.choice(['def', '', 'x -]'])}{quote}"
    if pick == 3:
        return f"{{k: {scalar(rng)},\n{under}z: [a -,\n{under}-]}}"
    if pick == 4:
        return rng.choice(["[a?b]", "[?a]", "{a: b?c}", "[? a]", "[a, ?b]"])
    if pick == 5:
        return f"|\n{' ' * (indent + 2)}[-] {{a: -}}"
    return f"\"[-]\" # {{x: -}}\n{' ' * indent}z{indent}: [-]"


def block(rng, indent, depth):
    """A block mapping's lines at `indent`."""
    lines = []
    used = set()
    for _ in range(rng.randint(1, 4)):
        key = rng.choice(KEYS)
        if key in used:
            continue
        used.add(key)
        pad = " " * indent
        key = key_text(rng, key)
        roll = rng.random()
        if depth > 0 and roll < 0.25:
            lines.append(f"{pad}{key}:")
            lines += block(rng, indent + 2, depth - 1)
        elif depth > 0 and roll < 0.4:
            lines.append(f"{pad}{key}:")
            for _ in range(rng.randint(1, 3)):
                if rng.random() < 0.5:
                    sub = block(rng, indent + 4, depth - 1)
                    lines.append(f"{pad}  - " + sub[0].lstrip())
                    lines += sub[1:]
                else:
                    lines.append(f"{pad}  - {scalar(rng)}")
        elif roll < 0.5:
            items = ", ".join(scalar(rng) for _ in range(rng.randint(0, 3)))
            lines.append(f"{pad}{key}: [{items}]")
        elif roll < 0.6:
            inner = ", ".join(f"{key_text(rng, k)}: {scalar(rng)}" for k in rng.sample(KEYS, rng.randint(1, 3)))
            lines.append(f"{pad}{key}: {{{inner}}}")
        elif roll < 0.65:
            lines.append(f"{pad}{key}: [[{scalar(rng)}]]")
        elif roll < 0.72:
            lines.append(f"{pad}{key}: " + lax(rng, indent))
        else:
            comment = rng.choice(["", "  # c", " #c", "  # os.environ/NOT"])
            lines.append(f"{pad}{key}: {scalar(rng)}{comment}")
    return lines or [f"{' ' * indent}k: {scalar(rng)}"]


def config(rng, includes=()):
    lines = []
    if includes:
        lines.append("include:")
        lines += [f"  - {i}" for i in includes]
    if rng.random() < 0.15:
        lines += ["base: &b", "  api_key: " + reference(rng).replace("!!str ", "").replace("! ", ""), "  rpm: 10"]
        lines += ["model_list:", "  - model_name: m0", "    litellm_params:", "      <<: *b", "      model: x"]
        if rng.random() < 0.3:
            lines += ["other: *b"]
    else:
        lines.append("model_list:")
        for i in range(rng.randint(0, 3)):
            lines.append(f"  - model_name: m{i}")
            lines.append("    litellm_params:")
            lines += block(rng, 6, 2)
    if rng.random() < 0.7:
        lines.append("general_settings:")
        lines += block(rng, 2, 1)
        # The master key and its override, often: LiteLLM's boot verdict on what they resolve to.
        if rng.random() < 0.5 and not any(line.startswith("  master_key:") for line in lines):
            lines.append("  master_key: " + rng.choice(MASTER_KEYS))
        if rng.random() < 0.2 and not any(line.startswith(f"  {OVERRIDE}:") for line in lines):
            lines.append(f"  {OVERRIDE}: " + rng.choice(["true", "True", "'true'", "false", "1", "os.environ/A"]))
    if rng.random() < 0.5:
        lines.append("litellm_settings:")
        lines += block(rng, 2, 2)
    if rng.random() < 0.1:
        # Around LiteLLM's recursion limit (100; the root is depth 0).
        depth = rng.randint(97, 102)
        for d in range(depth):
            lines.append("  " * d + f"d{d}:")
        lines.append("  " * depth + "leaf: " + reference(rng))
    if rng.random() < 0.1:
        lines.append(f"{rng.choice(KEYS)}: {scalar(rng)}")
    text = "\n".join(lines) + "\n"
    if rng.random() < 0.2:
        text += rng.choice(EDGES)
    return text


# Snippets where PyYAML and a YAML 1.2 parser disagree, or where LiteLLM's walk has a rule.
EDGES = [
    "e1: &k os.environ/A\ne2: [*k]\n", "e1: [&k os.environ/A]\ne2: *k\n", "e1: &k os.environ/A\ne2: *k\n",
    "e1: 1 # c\u2028e2: os.environ/A\n", "e1: x\u0085\n", "e1: \"a\\u2028b\"\n", "e1: \x01\n",
    "e1: =\n", "e1: <<\n", "e1:\n  \"<<\": {k: os.environ/A}\n", "e1: !!int os.environ/A\n",
    "e1: !!binary os.environ/A\n", "e1: !foo x\n", "e1: &a^ x\n", "1: a\n0x1: os.environ/A\n",
    "e1: {a: 1, a: 2}\n", "e1: |\n  os.environ/A\n", "e1: os.environ/\n", "e1: \"os.environ/A\\nB\"\n",
    "e1: ! os.environ/B\n", "e1: !!str os.environ/C\n", "? e1\n: os.environ/A\n", "e1: {? a: os.environ/B}\n",
    "e1: 'multi\n  line'\n", "e1: [a, [b, {k: os.environ/A}]]\n", "e1: - x\n", "\u00a0e1: x\n",
    "e1: 2001-12-14\ne2: os.environ/A\n", "e1: ~\ne2: os.environ/A\n", "e1: &m {k: os.environ/B}\ne2: [[*m]]\n",
    "e1: {a: -}\ne2: [-, os.environ/A]\n", "e1: \"abc\ndef\"\ne2: os.environ/B\n", "e1: [a?b]\n",
    "e1:\n  k: [os.environ/A,\n b]\n", "e1: [?a]\n", "e1: 'x\n\ty'\n", "e1: [a -]\ne2: \"[-]\" # [-]\n",
    "e1: \"os.environ/A\n\"\n", "e1: |\n  [-]\ne2: [-]\n", "e1: \"a\n--- b\"\n",
    # Merges as PyYAML 6.0.4 builds them: the last merged mapping wins a key longer than one
    # character, the first a one-character key; `! <<` and `!!merge` merge too.
    "e1: &m1 {ab: os.environ/A}\ne2: &m2 {ab: os.environ/B}\ne3: {<<: [*m1, *m2]}\n",
    "e1: &m1 {a: os.environ/A}\ne2: &m2 {a: os.environ/B}\ne3: {<<: [*m1, *m2]}\n",
    "general_settings:\n  <<: [{master_key: sk-7f3c9e}, {master_key: sk-1234}]\n",
    "e1:\n  ! <<: {api_key: os.environ/A}\n", "e1:\n  !!merge x: {api_key: os.environ/A}\n",
    "e1: {<<: 1}\n", "e1: {<<: os.environ/A}\n", "e1: !!binary QR==\n", "e1: !!binary \"\u00e9\"\n", "=: 1\n",
    "e1: !!omap [{a: 1}]\n", "e1: !!omap {a: 1}\n", "e1: !!set [1]\n", "e1: ! '<<'\n",
    # Shadowed merged entries: LiteLLM never asks for what the dict does not hold.
    "e1: {<<: [{ab: os.environ/A}, {ab: os.environ/B}]}\n", "e1: {<<: {api_key: os.environ/A}, api_key: os.environ/B}\n",
    "e1:\n  <<: [{k: os.environ/A}, {k: os.environ/B, kk: os.environ/C}]\n  kk: x\n",
    # `!` resolves by form, and PyYAML's `$` also matches before a final line break.
    "e1: ! \"yes\\n\"\n", "e1: ! \"null\\n\"\ne2: os.environ/A\n", "e1: ! \".inf\\n\"\n", "e1: ! \"1\\n\"\n",
    "e1: ! \"2001-12-14\\n\"\n", "e1: ! \"=\\n\"\n", "e1: {! \"null\\n\": os.environ/A}\n", "e1: ! \"\\n\"\n",
    "e1: ! |\n  off\ne2: os.environ/A\n", "e1: ! \"-.NaN\\n\"\n", "e1: ! \"0b_\\n\"\n",
    # Ordered maps, pairs and sets are no dict or list to LiteLLM's walk.
    "e1: !!omap [{k: os.environ/A}]\n", "e1: !!pairs [{k: os.environ/A}, {k: os.environ/B}]\n",
    "e1: !!set {os.environ/A}\ne2: os.environ/B\n", "e1: [!!omap [{k: {api_key: os.environ/A}}]]\n",
    "e1: !!omap [{<<: {k: os.environ/A}}]\n", "e1: !!omap [{=: os.environ/A}]\n", "e1: !!set {<<: {k: 1}}\n",
    "e1:\n  k: !!omap\n    - a: os.environ/A\n",
]


def environment(rng):
    env = {n: rng.choice(VALUES) for n in NAMES if rng.random() < 0.8}
    for name in BOOT_NAMES:
        if rng.random() < 0.15:
            env[name] = rng.choice(BOOT_VALUES)
    if rng.random() < 0.6:
        env[rng.choice(["KEY", "A"])] = rng.choice(BOOT_VALUES)
    for name in ["CIRCLE_OIDC_TOKEN", "CIRCLE_OIDC_TOKEN_V2"]:
        if rng.random() < 0.5:
            env[name] = "t"
    return env


# Configs with a master key that LiteLLM refused (and osenv too) or boots with.
BOOT = {"refused": 0, "started": 0, "shape": 0}


def shape_refused(loaded):
    """Whether LiteLLM's `load_config` refuses the shape of `loaded` (its config after
    `_check_for_os_environ_vars`) at boot, before any secret manager or master key."""
    general = loaded.get("general_settings")
    if general is not None and not isinstance(general, dict):
        return True
    try:
        NAMES_VIEW.validate_python(loaded)
        NAMES_VIEW.validate_python(general or {})
    except ValidationError:
        return True
    return False


def boot_refuses(loaded):
    """Whether LiteLLM refuses to boot with the master key of `loaded` (its config after
    `_check_for_os_environ_vars`), as `proxy_server` reads it under the current environment; `None`
    when the verdict is not reached. Only a refusal of a key the config names (`master_key` in
    general_settings) is osenv's to enforce; the rest depends on where the proxy runs."""
    general = loaded.get("general_settings")
    if general is None:
        general = {}
    if not isinstance(general, dict):
        return None
    key = general.get("master_key", get_secret("LITELLM_MASTER_KEY", None))
    try:
        if key and key.startswith("os.environ/"):
            key = get_secret(key)
        verdict = boot.master_key_boot_verdict(
            master_key=key,
            environment_master_key=os.getenv("LITELLM_MASTER_KEY"),
            general_settings=general,
            config_file_path="config.yaml",
            override_env_is_on=get_secret_bool("LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY") is True,
            salt_key_is_set=os.getenv("LITELLM_SALT_KEY") is not None,
            database_is_configured=bool(general.get("database_url")) or get_secret("DATABASE_URL", None) is not None,
        )
    except AttributeError:  # not text: `.startswith` or `.strip` of a number, a boolean, a list
        return "master_key" in general
    return isinstance(verdict, boot.UnsafeMasterKeyRefused) and "master_key" in general


def strict(a, b):
    """Equality that tells `True` from `1` and `1` from `1.0`."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(strict(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(strict(x, y) for x, y in zip(a, b))
    return a == b


def without_key_management(config):
    general = config.get("general_settings")
    if isinstance(general, dict):
        general = {k: v for k, v in general.items() if k not in ("key_management_system", "key_management_settings")}
        config = {**config, "general_settings": general}
    return config


class LiteLLM:
    def __init__(self):
        self.asked = []
        original = proxy_server.get_secret

        def recording(name, *args, **kwargs):
            self.asked.append(name.replace("os.environ/", ""))
            return original(name, *args, **kwargs)

        proxy_server.get_secret = recording

    def resolve(self, path, env):
        os.environ.clear()
        os.environ.update(env)
        self.asked = []
        pc = ProxyConfig()
        loaded = asyncio.run(pc._get_config_from_file(config_file_path=str(path)))
        return pc._check_for_os_environ_vars(config=dict(loaded)), sorted(set(self.asked))

    def resolve_text(self, text, env):
        os.environ.clear()
        os.environ.update(env)
        return ProxyConfig()._check_for_os_environ_vars(config=yaml.safe_load(text))


PATH = os.environ.get("PATH", "")


def run_osenv(osenv, args, cwd, env):
    return subprocess.run([osenv, *args], cwd=cwd, env={"PATH": PATH, **env},
                          capture_output=True, text=True, timeout=60)


def config_case(osenv, litellm, rng, work):
    files = {}
    includes = []
    if rng.random() < 0.2:
        includes = ["inc.yaml"] + (["sub/more.yaml"] if rng.random() < 0.5 else [])
        files["inc.yaml"] = config(rng)
        if len(includes) > 1:
            files["sub/more.yaml"] = config(rng, ["../inc.yaml"] if rng.random() < 0.5 else ())
    files["config.yaml"] = config(rng, includes)
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    env = environment(rng)
    base = {"PATH": PATH}
    try:
        expected, asked = litellm.resolve(work / "config.yaml", {**base, **env})
        loads = True
    except Exception as e:  # noqa: BLE001 - any failure means LiteLLM does not start
        expected, asked, loads = repr(e), [], False
    rendered = run_osenv(osenv, ["render", "config.yaml", "--allow-missing", "-q"], work, env)
    if not loads:
        if rendered.returncode == 0:
            return f"LiteLLM cannot load it ({expected[:200]}), osenv rendered it"
        return None
    if shape_refused(expected):
        # Refused by both (osenv may name another of its problems first).
        if rendered.returncode != 0:
            BOOT["shape"] += "`load_config` reads it as a mapping of names" in rendered.stderr
            return None
        return "LiteLLM's load_config refuses its shape at boot, osenv rendered it"
    if rendered.returncode != 0 and "`load_config` reads it as a mapping of names" in rendered.stderr:
        return f"LiteLLM's load_config takes its shape, osenv refused: {rendered.stderr[:400]}"
    refuses = boot_refuses(expected)
    osenv_refuses = rendered.returncode != 0 and (
        "LiteLLM 1.110.2 refuses to start" in rendered.stderr or "LiteLLM 1.110.2 fails at boot" in rendered.stderr)
    if rendered.returncode != 0:
        if any(reason in rendered.stderr for reason in FAIL_CLOSED):
            return None
        if osenv_refuses and refuses:
            BOOT["refused"] += 1
            return None
        if osenv_refuses:
            return f"LiteLLM boots with its master key, osenv refused: {rendered.stderr[:400]}"
        return f"LiteLLM loads it, osenv failed: {rendered.stderr[:400]}"
    if refuses:
        return "LiteLLM refuses to boot with the config's master key, osenv rendered it"
    if refuses is not None and "master_key" in (expected.get("general_settings") or {}):
        BOOT["started"] += 1
    # What LiteLLM makes of the rendered file is what it made of the original. The rendered file
    # holds the values themselves, except `oidc/` references, which LiteLLM resolves itself
    # when it starts (a token must be fresh); so loaded as plain YAML it differs only there.
    got = litellm.resolve_text(rendered.stdout, {**base, **env})
    want = without_key_management(expected)
    if not strict(got, want):
        return f"rendered differs:\n  osenv:   {got!r}\n  litellm: {want!r}"
    if "os.environ/oidc/" not in rendered.stdout and not strict(yaml.safe_load(rendered.stdout), got):
        return "LiteLLM resolves the rendered file again"
    check = run_osenv(osenv, ["check", "config.yaml", "--format", "json", "--offline", "-q"], work, env)
    try:
        names = sorted({r["name"] for r in json.loads(check.stdout)["references"]})
    except (ValueError, KeyError):
        return f"check --format json failed: {check.stderr[:300]}"
    asked = [n for n in asked if not n.startswith("oidc/")]
    if names != asked:
        return f"check lists {names}, LiteLLM asked for {asked}"
    return None


# Token soup for the parsers alone: the places where PyYAML and YAML 1.2 part ways (flow `-`,
# `?` and `>`, tabs, comments without a space, indentation inside flow and quotes, anchors).
YAML_TOKENS = [
    "a", "b", "-", "[", "]", "{", "}", ",", ":", " ", "  ", "\n", "\n  ", "\n ", "'", '"', "?", "#", "|",
    ">", "&x ", "*x", "!!str ", "\t", "- ", ": ", "os.environ/A", "\n---", "...", "? ", "x: ", "\n- ",
]


def yaml_case(osenv, rng, work):
    """osenv reads a config exactly when PyYAML (so LiteLLM) can: it refuses what PyYAML refuses,
    and loads what PyYAML loads (but for its deliberate refusals)."""
    text = "k: " + "".join(rng.choice(YAML_TOKENS) for _ in range(rng.randint(2, 10))) + "\n"
    try:
        loaded = yaml.safe_load(text)
        loads = isinstance(loaded, dict)
    except yaml.YAMLError:
        loads = False
    else:
        if not loads:
            return None  # osenv refuses a non-mapping root, as LiteLLM fails on it later
    (work / "config.yaml").write_text(text)
    check = run_osenv(osenv, ["check", "config.yaml", "--offline", "-q"], work, {"A": "x"})
    if "panicked" in check.stderr:
        return f"osenv panicked on {text!r}"
    read = check.returncode != 2
    if loads and shape_refused(loaded):
        # PyYAML loads it, LiteLLM's load_config refuses it at boot (a key that is not a string).
        return f"LiteLLM's load_config refuses {text!r}, osenv read it" if read else None
    if loads and not read and not any(reason in check.stderr for reason in FAIL_CLOSED):
        # Not handled yet (README): a block scalar's `|`/`>` at column 0 under a key.
        if any(line[:1] in "|>" and line for line in text.splitlines()[1:]):
            return None
        return f"PyYAML loads {text!r}, osenv refused: {check.stderr[:300]}"
    if read and not loads:
        return f"PyYAML refuses {text!r}, osenv read it"
    return None


DOTENV_LINES = [
    "V=pa$sword", "V=${UNSET:-dflt}", "V=#notcomment", "V= #comment", "W=1\nV=$W", "W=1\nV=${W}",
    'V="pa$sword"', 'V="$HOME"', 'V="a\\tb"', "V=a'b", "V='x\\'y'", 'V="x\\"y"', "V=a b # c", "V=a#b",
    "export V=e", "export  V = e ", "V", "V=", "V=''", 'V=""', "'V'=q", "V='multi\nline'",
    'V="multi\nline"', "V=${W:-${X}}", "V=${W}${W}", "V=$", "V=${", "V=${}", "V=${:-d}", "V=\\$X",
    "V=x\x1f", "V=x\u3000", "V= x ", "V=\u00a0x", 'V="\\u0041\\x41"', "V='\\\\'", 'V="\\\\"',
    "# comment", "", "  ", "W=two words", "V=${W:-a:b}", "V=${W:b}", "\ufeffV=bom", "V=1\r\nW=2",
    "V=a\rW=b", "V=\\n", 'V="a"junk', "V='unclosed", "=x", "V==x", "V=a=b", "V=${HOME}",
]


def dotenv_case(osenv, rng, work):
    text = "\n".join(rng.choice(DOTENV_LINES) for _ in range(rng.randint(1, 6))) + "\n"
    path = work / "case.env"
    path.write_bytes(text.encode())
    process = {"HOME": "/home/p"} if rng.random() < 0.5 else {}
    os.environ.clear()
    os.environ.update(process)
    # `load_dotenv` (override=False): the file's values, except where the process has one.
    want = {k: v for k, v in dotenv_values(path).items() if v is not None}
    want.update({k: v for k, v in process.items() if k in want})
    names = ["V", "W", "HOME"]
    (work / "c.yaml").write_text("".join(f"k{i}: os.environ/{n}\n" for i, n in enumerate(names)))
    got = run_osenv(osenv, ["env", "c.yaml", "--env-file", "case.env", "--format", "json", "--allow-missing", "-q"],
                    work, process)
    if got.returncode != 0:
        if "python-dotenv cannot parse" in got.stderr:
            return None
        return f"env file {text!r}: osenv failed: {got.stderr[:300]}"
    values = {k: v for k, v in json.loads(got.stdout).items() if k in names}
    want = {k: v for k, v in (want | process).items() if k in names}
    if values != want:
        return f"env file {text!r} (process {process}):\n  osenv:         {values!r}\n  python-dotenv: {want!r}"
    return None


def literal_table(path, rng, count):
    atoms = ["True", "False", "(", ")", " ", "\t", "\x0c", "\n", "\r", "#c", "\\", "\x0b", "\u3000", "x", ",", "\x00",
             "\r\n", "  ", "true", "1"]
    table = {}
    for _ in range(count):
        s = "".join(rng.choice(atoms) for _ in range(rng.randint(1, 8)))
        try:
            v = ast.literal_eval(s)
            table[s] = v if isinstance(v, bool) else None
        except Exception:  # noqa: BLE001 - literal_eval raises many kinds
            table[s] = None
    Path(path).write_text(json.dumps(table))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--osenv", required=True)
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", default="target/differential")
    parser.add_argument("--literal-table", default=None, help="also write a literal_eval table here")
    args = parser.parse_args()
    args.osenv = os.path.abspath(args.osenv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    litellm = LiteLLM()
    keep = Path(args.keep)
    failures = 0
    kinds = {"config": 0, "dotenv": 0, "yaml": 0}
    for i in range(args.cases):
        work = Path(tempfile.mkdtemp(prefix="osenv-diff-"))
        try:
            roll = rng.random()
            kind = "dotenv" if roll < 0.2 else "yaml" if roll < 0.4 else "config"
            kinds[kind] += 1
            problem = (dotenv_case(args.osenv, rng, work) if kind == "dotenv"
                       else yaml_case(args.osenv, rng, work) if kind == "yaml"
                       else config_case(args.osenv, litellm, rng, work))
            if problem:
                failures += 1
                dest = keep / f"case-{seed}-{i}"
                shutil.rmtree(dest, ignore_errors=True)
                shutil.copytree(work, dest)
                (dest / "problem.txt").write_text(problem + "\n")
                if failures <= 20:
                    print(f"case {i} ({dest}): {problem}", file=sys.stderr)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    if args.literal_table:
        literal_table(args.literal_table, rng, 20000)
    print(f"differential: seed {seed}, {kinds['config']} configs, {kinds['yaml']} parser cases and "
          f"{kinds['dotenv']} env files (master keys: {BOOT['refused']} refused, {BOOT['started']} booted; {BOOT['shape']} shapes refused), "
          f"{failures} difference(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
