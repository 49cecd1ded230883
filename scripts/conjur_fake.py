"""A faithful fake of the CyberArk Conjur REST API, the parts osenv uses. Started by
scripts/testbed; standard library only. (Conjur itself needs a Ruby application and PostgreSQL,
which cannot run here.)

    python conjur_fake.py --cert server.pem --key server.key --ca ca.pem --port-file FILE

It serves the same API on two listeners: plain HTTP (Conjur Open Source's default, LiteLLM's
`http://127.0.0.1:8080`), and HTTPS that requires a client certificate signed by the test CA (a
mutual-TLS gateway in front of Conjur, what LiteLLM's CYBERARK_CLIENT_CERT/KEY are for).

Endpoints, status codes and bodies follow Conjur's published API (cyberark/conjur-openapi-spec,
spec/*.yml) and its controllers (cyberark/conjur app/controllers: authenticate, secrets,
resources, policies):
  * POST /authn/{account}/{login}/authenticate with the API key as body: 200 and the access token
    (a signed JSON document: protected, payload, signature), 401 with an empty body for a wrong key
    or an unknown login. The login is one URL-encoded path segment (`host%2Flitellm%2Fproxy`); an
    unencoded `/` matches no route (404), as Conjur's routes constrain it.
  * Every other request carries `Authorization: Token token="<base64 of the token>"`; a missing,
    malformed, unknown or expired token is 401. Tokens live 8 minutes.
  * GET /secrets/{account}/variable/{id}[?version=N]: the raw value (application/octet-stream);
    404 `not_found` for a variable that does not exist, that the role may not see (no privilege on
    it), or that has no value (or not that version); 403 `forbidden` without `execute`.
  * GET /secrets?variable_ids=acct:variable:a,acct:variable:b: a JSON object of values, all or
    nothing: 422 when the list is empty, 404 naming the first id that is missing or has no value
    (and for a repeated id, since Conjur compares counts), 403 when `execute` is missing on any, 406
    when a value is not UTF-8 (unless `Accept-Encoding: base64`, which base64-encodes the values).
  * POST /secrets/{account}/variable/{id} with the value as body: 201; 404 undeclared (or not
    visible); 403 without `update`; 422 for an empty value. At most 20 versions are kept.
  * GET /resources/{account}/variable/{id}: the resource JSON with `secrets` (versions, never
    values); `?check=true&privilege=P` answers 204 when the current role has P, else 404.
  * POST (add) and PATCH (update) /policies/{account}/policy/root with a YAML body holding
    `- !variable <id>`, `- !permit {role, privileges, resource}` blocks (role `!host`/`!user`,
    resource `!variable` or `!policy root`) and, with PATCH only, `- !delete {record: !variable
    <id>}` entries (ids plain or double-quoted): 201 `{"created_roles": {}, "version": N}`; 403
    for a role that may not load policy (POST needs `create` on the policy, PATCH `update`); 422
    for anything else in the body.
Errors carry Conjur's body `{"error": {"code", "message"}}`.

Roles (API keys are fixed; the tests know them):
  * `user:admin` (accounts `default` and `myorg`): every privilege, may load policy.
  * `host:litellm/proxy`: `read` and `execute` on every variable, except ids containing
    `forbidden` (read only: fetching is 403) and `hidden` (no privilege: 404); no `update`.
  * `host:litellm/writer`: read, execute and update on every variable; may not load policy.
  * `host:litellm/least`: only what loaded `!permit` entries grant it (Conjur's own model), on
    variables and on `policy:root`; the tests of `osenv policy` load its policy.

Test control (no authentication): POST /_fake/reset (every variable, token and counter),
POST /_fake/seed {"account", "id", "values": [...], "binary": bool} declares a variable with those
values, GET /_fake/requests lists the requests seen (`METHOD /path?query`) and the statuses answered, POST
/_fake/config {"token_ttl": seconds, "policy_busy": n} shortens token life / answers the next n
policy loads with 409.
"""

import argparse
import base64
import json
import re
import secrets as random
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

API_KEYS = {
    "default:user:admin": "admin-api-key",
    "myorg:user:admin": "admin-api-key",
    "default:host:litellm/proxy": "proxy-api-key",
    "default:host:litellm/writer": "writer-api-key",
    "default:host:litellm/least": "least-api-key",
}
# Roles whose privileges are only what loaded `!permit` entries grant.
PERMITTED_ONLY = {"default:host:litellm/least"}
MAX_VERSIONS = 20

LOCK = threading.Lock()
STATE = {}


def reset():
    STATE.clear()
    STATE.update(
        {
            "variables": {},  # full id -> list of bytes (versions, oldest first)
            "tokens": {},  # signature -> (role, expiry)
            "requests": [],
            "statuses": [],
            "token_ttl": 480,
            "policy_busy": 0,
            "policy_version": 1,
            "permits": set(),  # (role, privilege, resource) as full ids
        }
    )


reset()


def error(status, code, message):
    return status, {"error": {"code": code, "message": message}}


def privileges(role, variable_id):
    """The privileges `role` holds on variable `variable_id` (the id without account and kind)."""
    if role in PERMITTED_ONLY:
        return permitted(role, f"{role.split(':')[0]}:variable:{variable_id}")
    kind = role.split(":")[1]
    if kind == "user":
        return {"read", "execute", "update"}
    if role.endswith(":host:litellm/writer"):
        return {"read", "execute", "update"}
    if "hidden" in variable_id:
        return set()
    if "forbidden" in variable_id:
        return {"read"}
    return {"read", "execute"}


def permitted(role, resource):
    return {p for (r, p, res) in STATE["permits"] if r == role and res == resource}


def may_load_policy(role, method="POST"):
    if role in PERMITTED_ONLY:
        needed = "create" if method == "POST" else "update"
        return needed in permitted(role, f"{role.split(':')[0]}:policy:root")
    return role.split(":")[1] == "user"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def policy_entries(text, patch):
    """The (action, id) entries of a policy body, or None when it holds anything else."""
    scalar = r'("(?:[^"\\]|\\.)*"|[^\s"{}]+)'
    entries = []
    lines = [l for l in text.splitlines() if l.strip() and not l.strip().startswith("#")]
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.fullmatch(r"- !variable " + scalar + r"\s*", line)
        if m:
            entries.append(("declare", m.group(1)))
            i += 1
            continue
        if re.fullmatch(r"- !permit\s*", line):
            fields = {}
            i += 1
            while i < len(lines) and lines[i].startswith("  "):
                f = re.fullmatch(r"\s+(role|privileges|resource): (.*?)\s*", lines[i])
                if not f:
                    return None
                fields[f.group(1)] = f.group(2)
                i += 1
            role = re.fullmatch(r"!(host|user) " + scalar, fields.get("role", ""))
            resource = re.fullmatch(r"!(variable|policy) " + scalar, fields.get("resource", ""))
            granted = re.fullmatch(r"\[\s*([a-z]+(?:\s*,\s*[a-z]+)*)\s*\]", fields.get("privileges", ""))
            if not (role and resource and granted):
                return None
            entries.append(("permit", (role.group(1), role.group(2), resource.group(1), resource.group(2),
                                       [p.strip() for p in granted.group(1).split(",")])))
            continue
        m = re.fullmatch(r"- !delete\s*", line)
        if m and patch and i + 1 < len(lines):
            r = re.fullmatch(r"\s+record: !variable " + scalar + r"\s*", lines[i + 1])
            if r:
                entries.append(("delete", r.group(1)))
                i += 2
                continue
        m = re.fullmatch(r"- !delete \{\s*record: !variable " + scalar + r"\s*\}\s*", line)
        if m and patch:
            entries.append(("delete", m.group(1)))
            i += 1
            continue
        return None
    unquote_scalar = lambda raw: json.loads(raw) if raw.startswith('"') else raw  # noqa: E731
    out = []
    for action, raw in entries:
        if action == "permit":
            kind, role, rkind, resource, granted = raw
            out.append((action, (kind, unquote_scalar(role), rkind, unquote_scalar(resource), granted)))
        else:
            out.append((action, unquote_scalar(raw)))
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def send(self, status, body=None, content_type="application/json", headers=None):
        if body is None:
            data = b""
        elif isinstance(body, bytes):
            data = body
        else:
            data = json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_PATCH(self):
        self.route("PATCH")

    def do_PUT(self):
        self.route("PUT")

    def do_DELETE(self):
        self.route("DELETE")

    def route(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        if url.path.startswith("/_fake/"):
            return self.control(method, url.path, raw)
        with LOCK:
            STATE["requests"].append(f"{method} {url.path}" + (f"?{url.query}" if url.query else ""))
        # Segments split before decoding, as Rails routes see them.
        parts = [unquote(p) for p in url.path.split("/")[1:]]
        query = parse_qs(url.query, keep_blank_values=True)
        with LOCK:
            status, body, *rest = self.answer(method, parts, query, raw)
            STATE["statuses"].append(status)
        if status in (200, 201) and isinstance(body, bytes):
            return self.send(status, body, rest[0] if rest else "application/octet-stream")
        self.send(status, body)

    def control(self, method, path, raw):
        with LOCK:
            if path == "/_fake/reset" and method == "POST":
                reset()
                return self.send(200, {})
            if path == "/_fake/requests" and method == "GET":
                return self.send(200, {"requests": list(STATE["requests"]), "statuses": list(STATE["statuses"])})
            if path == "/_fake/config" and method == "POST":
                for k, v in json.loads(raw or b"{}").items():
                    STATE[k] = v
                return self.send(200, {})
            if path == "/_fake/seed" and method == "POST":
                seed = json.loads(raw)
                values = [
                    base64.b64decode(v) if seed.get("binary") else v.encode() for v in seed.get("values", [])
                ]
                STATE["variables"][f"{seed.get('account', 'default')}:variable:{seed['id']}"] = values
                return self.send(200, {})
        return self.send(404, {})

    def role(self):
        """The role of a valid access token, or None."""
        header = self.headers.get("Authorization") or ""
        m = re.fullmatch(r'Token token="([A-Za-z0-9+/=]+)"', header.strip())
        if not m:
            return None
        try:
            token = json.loads(base64.b64decode(m.group(1), validate=True))
            signature = token["signature"]
        except (ValueError, KeyError, TypeError):
            return None
        role, expiry = STATE["tokens"].get(signature, (None, 0))
        return role if expiry > time.time() else None

    def answer(self, method, parts, query, raw):
        if len(parts) == 4 and parts[0] == "authn" and parts[3] == "authenticate" and method == "POST":
            return self.authenticate(parts[1], parts[2], raw)
        if parts and parts[0] == "authn":
            return 404, None
        role = self.role()
        if role is None:
            return 401, None
        account = role.split(":")[0]
        if parts == ["secrets"] and method == "GET":
            return self.batch(role, query)
        if len(parts) == 4 and parts[0] == "secrets" and parts[2] == "variable":
            if parts[1] != account:
                return error(404, "not_found", f"Account '{parts[1]}' not found")
            if method == "GET":
                return self.show(role, f"{parts[1]}:variable:{parts[3]}", parts[3], query)
            if method == "POST":
                return self.set(role, f"{parts[1]}:variable:{parts[3]}", parts[3], raw)
        if len(parts) == 4 and parts[0] == "resources" and parts[2] == "variable" and method == "GET":
            return self.resource(role, f"{parts[1]}:variable:{parts[3]}", parts[3], query)
        if len(parts) == 4 and parts[0] == "policies" and parts[2] == "policy" and method in ("POST", "PATCH"):
            return self.policy(role, parts[1], parts[3], method, raw)
        return 404, None

    def authenticate(self, account, login, raw):
        kind, ident = ("host", login[5:]) if login.startswith("host/") else ("user", login)
        role = f"{account}:{kind}:{ident}"
        if API_KEYS.get(role) is None or raw.decode(errors="replace").strip() != API_KEYS[role]:
            return 401, None
        signature = b64url(random.token_bytes(32))
        now = int(time.time())
        STATE["tokens"][signature] = (role, now + STATE["token_ttl"])
        token = {
            "protected": b64url(json.dumps({"alg": "conjur.org/slosilo/v2", "kid": "fake"}).encode()),
            "payload": b64url(json.dumps({"sub": login, "iat": now, "exp": now + STATE["token_ttl"]}).encode()),
            "signature": signature,
        }
        return 200, json.dumps(token).encode(), "application/json"

    def visible(self, role, full_id, ident):
        return full_id in STATE["variables"] and privileges(role, ident)

    def not_found(self, full_id):
        account, kind, ident = full_id.split(":", 2)
        return error(404, "not_found", f"{kind.capitalize()} '{ident}' not found in account '{account}'")

    def show(self, role, full_id, ident, query):
        if not self.visible(role, full_id, ident):
            return self.not_found(full_id)
        if "execute" not in privileges(role, ident):
            return error(403, "forbidden", "Forbidden")
        versions = STATE["variables"][full_id]
        version = query.get("version", [None])[0]
        if version is None:
            value = versions[-1] if versions else None
        elif version.isdigit() and 1 <= int(version) <= len(versions):
            value = versions[int(version) - 1]
        else:
            value = None
        if value is None:
            return error(404, "not_found", f"Variable {full_id} is empty or not found.")
        return 200, value, "application/octet-stream"

    def batch(self, role, query):
        listed = (query.get("variable_ids") or [""])[0]
        ids = [i for i in listed.split(",") if i]
        if not ids:
            return error(422, "argument_error", "variable_ids")
        found = {i for i in ids if i in STATE["variables"]}
        if len(found) != len(ids):
            first = next((i for i in ids if i not in found), ids[0])
            return error(404, "not_found", f"Variable {first} is empty or not found.")
        for i in ids:
            if "execute" not in privileges(role, i.split(":", 2)[2]):
                return error(403, "forbidden", "Forbidden")
        base64_wanted = (self.headers.get("Accept-Encoding") or "").strip() == "base64"
        result = {}
        for i in ids:
            versions = STATE["variables"][i]
            if not versions:
                return error(404, "not_found", f"Variable {i} is empty or not found.")
            if base64_wanted:
                result[i] = base64.b64encode(versions[-1]).decode()
            else:
                try:
                    result[i] = versions[-1].decode("utf-8")
                except UnicodeDecodeError:
                    return error(406, "not_acceptable", "Issue encoding secret into JSON format, try including 'Accept-Encoding: base64' header in request.")
        return 200, result

    def set(self, role, full_id, ident, raw):
        if not self.visible(role, full_id, ident):
            return self.not_found(full_id)
        if "update" not in privileges(role, ident):
            return error(403, "forbidden", "Forbidden")
        if not raw.strip():
            return error(422, "argument_error", "'value' may not be empty")
        versions = STATE["variables"][full_id]
        versions.append(raw)
        del versions[:-MAX_VERSIONS]
        return 201, None

    def resource(self, role, full_id, ident, query):
        if "check" in query:
            privilege = (query.get("privilege") or [""])[0]
            if not privilege:
                return error(422, "argument_error", "privilege")
            allowed = full_id in STATE["variables"] and privilege in privileges(role, ident)
            return (204, None) if allowed else (404, None)
        if not self.visible(role, full_id, ident):
            return self.not_found(full_id)
        account = full_id.split(":")[0]
        versions = STATE["variables"][full_id]
        return 200, {
            "created_at": "2026-12-01T00:00:00.000+00:00",
            "id": full_id,
            "owner": f"{account}:policy:root",
            "policy": f"{account}:policy:root",
            "permissions": [],
            "annotations": [],
            "secrets": [{"version": n + 1, "expires_at": None} for n in range(len(versions))],
        }

    def policy(self, role, account, identifier, method, raw):
        if account != role.split(":")[0] or identifier != "root":
            return error(404, "not_found", f"Policy '{identifier}' not found in account '{account}'")
        if not may_load_policy(role, method):
            return error(403, "forbidden", "Forbidden")
        if STATE["policy_busy"] > 0:
            STATE["policy_busy"] -= 1
            return error(409, "conflict", "Policy is being loaded by another request; retry later")
        entries = policy_entries(raw.decode(errors="replace"), method == "PATCH")
        if entries is None:
            return error(422, "validation_failed", "Invalid or unsupported policy (the fake takes !variable, !permit and !delete)")
        if any(a == "permit" for a, _ in entries) and role.split(":")[1] != "user":
            return error(403, "forbidden", "Forbidden")
        for action, ident in entries:
            if action == "permit":
                kind, who, rkind, resource, granted = ident
                for privilege in granted:
                    STATE["permits"].add((f"{account}:{kind}:{who}", privilege, f"{account}:{rkind}:{resource}"))
                continue
            full_id = f"{account}:variable:{ident}"
            if action == "declare":
                STATE["variables"].setdefault(full_id, [])
            else:
                STATE["variables"].pop(full_id, None)
        STATE["policy_version"] += 1
        return 201, {"created_roles": {}, "version": STATE["policy_version"]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--port-file", required=True)
    args = parser.parse_args()
    plain = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    mutual = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    context.load_verify_locations(args.ca)
    context.verify_mode = ssl.CERT_REQUIRED
    mutual.socket = context.wrap_socket(mutual.socket, server_side=True)
    with open(args.port_file, "w") as f:
        f.write(f"{plain.server_address[1]} {mutual.server_address[1]}\n")
    threading.Thread(target=mutual.serve_forever, daemon=True).start()
    plain.serve_forever()


if __name__ == "__main__":
    main()
