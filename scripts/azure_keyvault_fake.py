"""A faithful fake of the Azure Key Vault secrets data plane, plus the two token endpoints osenv's
Azure credentials use in tests. Started by scripts/testbed; standard library only.

    python azure_keyvault_fake.py --cert server.pem --key server.key --port-file FILE

It serves, over HTTPS:
  * the Key Vault secrets REST API (api-version 7.x and 2025-07-01): set (PUT), get latest and by
    version, update properties (PATCH), list and list versions with `nextLink` paging, delete (soft),
    get/purge/recover deleted secrets;
  * the challenge flow: a request without a bearer token gets 401 with
    `WWW-Authenticate: Bearer authorization="https://login.windows.net/<tenant>",
    resource="https://vault.azure.net"` and `{"error": {"code": "Unauthorized", "message": "Request is
    missing a Bearer or PoP token."}}` (as recorded), then the client retries with a token;
  * the Microsoft Entra client-credentials token endpoint `POST /{tenant}/oauth2/v2.0/token`
    (reached through AZURE_AUTHORITY_HOST), checking the client secret;
and over plain HTTP the App Service managed-identity endpoint (IDENTITY_ENDPOINT/IDENTITY_HEADER),
`GET /msi/token?api-version=2019-08-01&resource=...` checking the `X-IDENTITY-HEADER`.

Response shapes, status codes, error codes and messages follow the public REST specification
(Azure/azure-rest-api-specs, specification/keyvault/data-plane/Microsoft.KeyVault/stable/7.4/secrets.json)
and recorded service traffic in the Azure SDK repositories (Azure/azure-sdk-for-js
sdk/keyvault/keyvault-secrets/recordings, Azure/azure-sdk-for-python
sdk/keyvault/azure-keyvault-secrets/tests/recordings): the `{"error": {"code", "message"}}` body,
`SecretNotFound` (404), `Conflict` for a name in the deleted-but-recoverable state (409),
`BadParameter` for an invalid name (400), `Forbidden` with inner code `SecretDisabled` or
`AccessDenied` (403), `x-ms-request-id` and `x-ms-keyvault-service-version` headers, unix-second
timestamps in `attributes`, 32-hex-digit versions.

Tokens are checked as the service checks them: a token issued for another resource or scope than
`https://vault.azure.net` is refused (401 `AKV10022: Invalid audience`), and the token endpoint
knows one tenant (another is `AADSTS90002`).

Identities: a managed-identity token may do everything; `osenv-getter` may get but not list; the client-secret application
`osenv-reader` may only get and list (writes get 403 `AccessDenied`), `osenv-writer` everything.
`GET /_fake/requests` returns the requests seen (method and path) and `POST /_fake/reset` clears
every secret and the counters, `POST /_fake/forget-requests` only the counters, for the tests.
`POST /_fake/stall` with a number of seconds makes every Key Vault request (not the token endpoints)
wait that long before it is answered (a vault that accepts connections and does not answer), until
the next reset.
`POST /_fake/transition-delay` with a number of seconds makes every soft-delete transition take
that long, as the service's do (the Azure SDK's recordings and its users' reports show each):
- a delete: the name answers 404 to reads and 409 `ObjectIsBeingDeleted` to a write, recover or
  purge until it is done;
- a recovery (accepted with 200 at once): reads answer 404 and a write 409 `ObjectIsBeingRecovered`
  ("currently being recovered and cannot be re-created; retry later") until it is done;
- a purge (accepted with 204 at once): the name is neither a secret nor a deleted secret (404 to
  reads, recover and purge) and a write answers 409 `ObjectIsBeingDeleted` until it is done.
"""

import argparse
import json
import re
import ssl
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CHALLENGE = (
    f'Bearer authorization="https://login.windows.net/{TENANT}", '
    'resource="https://vault.azure.net"'
)
IDENTITY_HEADER = "osenv-test-identity-header"
CLIENTS = {"osenv-reader": "reader-secret", "osenv-writer": "writer-secret", "osenv-getter": "getter-secret"}
# Clients with `secrets/get` but not `secrets/list` (an access policy that grants only get).
GET_ONLY = {"osenv-getter"}
# Applications with a federated identity credential (AKS workload identity): they present the
# pod's projected service-account token as a client assertion instead of a secret.
FEDERATED = {"osenv-workload"}
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
PAGE = 2  # small, so that paging is exercised

LOCK = threading.Lock()
STATE = {
    "secrets": {},
    "deleted": {},
    # Names in a soft-delete transition: name -> (done at, "delete" | "recover" | "purge", record).
    # The service completes each after a while; until then see `in_transition`.
    "transitions": {},
    "transition_delay": 0.0,
    "stall": 0.0,
    "tokens": {},
    "requests": [],
    "assertions": [],
}


def being_deleted(name):
    return 409, error("Conflict", f"Secret {name} is currently being deleted.", "ObjectIsBeingDeleted")


def settle():
    """Complete the transitions whose time has come (under LOCK)."""
    for name, (ready, kind, record) in list(STATE["transitions"].items()):
        if time.time() >= ready:
            del STATE["transitions"][name]
            if kind == "delete":
                STATE["deleted"][name] = record
            elif kind == "recover":
                STATE["secrets"][name] = record


def begin(name, kind, record=None):
    """Start a transition of `name` (under LOCK); without a delay it completes at once."""
    STATE["transitions"][name] = (time.time() + STATE["transition_delay"], kind, record)
    settle()


def in_transition(method, parts):
    """The answer to a request on a name in transition, or None (under LOCK)."""
    if len(parts) < 2 or parts[0] not in ("secrets", "deletedsecrets"):
        return None
    name = parts[1]
    if name not in STATE["transitions"]:
        return None
    kind = STATE["transitions"][name][1]
    if method == "GET":
        if parts[0] == "deletedsecrets":
            return 404, error("SecretNotFound", f"Deleted Secret not found: {name}")
        return not_found(name)
    if kind == "delete":
        return being_deleted(name)
    if kind == "recover":
        if parts[0] == "deletedsecrets":
            return 404, error("SecretNotFound", f"Deleted Secret not found: {name}")
        return 409, error(
            "Conflict",
            f"Secret {name} is currently being recovered and cannot be re-created; retry later.",
            "ObjectIsBeingRecovered",
        )
    # Being purged: neither a secret nor a deleted one, and the name cannot be reused yet.
    if parts[0] == "deletedsecrets":
        return 404, error("SecretNotFound", f"Deleted Secret not found: {name}")
    return being_deleted(name)


def now():
    return int(time.time())


def error(code, message, inner=None):
    body = {"error": {"code": code, "message": message}}
    if inner:
        body["error"]["innererror"] = {"code": inner}
    return body


def not_found(name):
    return 404, error(
        "SecretNotFound",
        f"A secret with (name/id) {name} was not found in this key vault. If you recently deleted this "
        "secret you may be able to recover it using the correct recovery command. For help resolving "
        "this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182",
    )


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    # -- plumbing ----------------------------------------------------------------------------
    def send(self, status, body=None, headers=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        self.send_header("x-ms-keyvault-service-version", "1.9.1200.1")
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self):
        self.route("GET")

    def do_PUT(self):
        self.route("PUT")

    def do_POST(self):
        self.route("POST")

    def do_PATCH(self):
        self.route("PATCH")

    def do_DELETE(self):
        self.route("DELETE")

    def route(self, method):
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        path = url.path
        raw = self.body()
        if path.startswith("/_fake/"):
            return self.fake_control(method, path, raw)
        with LOCK:
            STATE["requests"].append(f"{method} {path}")
        if path == "/msi/token":
            return self.managed_identity(query)
        if re.fullmatch(r"/[^/]+/oauth2/v2\.0/token", path) and method == "POST":
            return self.client_credentials(raw, path.split("/")[1])
        with LOCK:
            stall = STATE["stall"]
        if stall:
            time.sleep(stall)
        if "api-version" not in query:
            return self.send(400, error("BadParameter", "The request is missing the api-version query parameter."))
        identity = self.identity()
        if identity is None:
            return self.send(
                401,
                error("Unauthorized", "Request is missing a Bearer or PoP token."),
                {"WWW-Authenticate": CHALLENGE},
            )
        if identity is False:
            return self.send(
                401,
                error("Unauthorized", "AKV10032: Invalid issuer. Expected one of https://sts.windows.net/..."),
                {"WWW-Authenticate": CHALLENGE},
            )
        # A token for another resource (a scope other than the vault's) is refused, as the
        # service refuses it.
        audience = identity.get("audience", "").removesuffix("/.default").rstrip("/")
        if audience != "https://vault.azure.net":
            return self.send(
                401,
                error("Unauthorized", f"AKV10022: Invalid audience. Expected https://vault.azure.net, found: {audience}."),
                {"WWW-Authenticate": CHALLENGE},
            )
        parts = [p for p in path.split("/") if p]
        status, body = self.vault(method, parts, query, raw, identity)
        self.send(status, body)

    def fake_control(self, method, path, raw=b""):
        if path == "/_fake/reset" and method == "POST":
            with LOCK:
                STATE["secrets"].clear()
                STATE["deleted"].clear()
                STATE["transitions"].clear()
                STATE["transition_delay"] = 0.0
                STATE["stall"] = 0.0
                STATE["requests"].clear()
                STATE["assertions"].clear()
            return self.send(200, {"reset": True})
        if path == "/_fake/transition-delay" and method == "POST":
            with LOCK:
                STATE["transition_delay"] = float(raw or b"0")
            return self.send(200, {"transition_delay": STATE["transition_delay"]})
        if path == "/_fake/stall" and method == "POST":
            with LOCK:
                STATE["stall"] = float(raw or b"0")
            return self.send(200, {"stall": STATE["stall"]})
        if path == "/_fake/forget-requests" and method == "POST":
            with LOCK:
                STATE["requests"].clear()
            return self.send(200, {"forgotten": True})
        if path == "/_fake/requests":
            with LOCK:
                return self.send(200, {"requests": list(STATE["requests"]), "assertions": list(STATE["assertions"])})
        return self.send(404, error("NotFound", "no such control endpoint"))

    # -- token endpoints ---------------------------------------------------------------------
    def issue(self, identity):
        token = f"fake-{uuid.uuid4().hex}"
        with LOCK:
            STATE["tokens"][token] = identity
        return token

    def managed_identity(self, query):
        if self.headers.get("X-IDENTITY-HEADER") != IDENTITY_HEADER:
            return self.send(
                400, {"statusCode": 400, "message": "Required metadata header not specified or not correct"}
            )
        resource = (query.get("resource") or [""])[0]
        token = self.issue({"id": "managed-identity", "write": True, "audience": resource})
        self.send(
            200,
            {
                "access_token": token,
                "expires_on": str(now() + 3600),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": "00000000-0000-0000-0000-00000000beef",
            },
        )

    def client_credentials(self, raw, tenant):
        if tenant != TENANT:
            return self.send(
                400,
                {
                    "error": "invalid_request",
                    "error_description": f"AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have "
                    "the correct tenant ID and are signing into the correct cloud.",
                    "error_codes": [90002],
                },
            )
        form = parse_qs(raw.decode())
        scope = (form.get("scope") or [""])[0]
        client = (form.get("client_id") or [""])[0]
        secret = (form.get("client_secret") or [""])[0]
        assertion = (form.get("client_assertion") or [""])[0]
        if assertion:
            kind = (form.get("client_assertion_type") or [""])[0]
            if kind != JWT_BEARER or client not in FEDERATED or assertion.count(".") != 2:
                return self.send(
                    401,
                    {
                        "error": "invalid_client",
                        "error_description": f"AADSTS70021: No matching federated identity record found for "
                        f"presented assertion. Assertion Issuer: 'unknown'. Assertion Subject: 'unknown'.",
                        "error_codes": [70021],
                    },
                )
            with LOCK:
                STATE["assertions"].append(assertion)
            token = self.issue({"id": client, "write": False, "audience": scope})
            return self.send(
                200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}
            )
        if CLIENTS.get(client) != secret:
            return self.send(
                401,
                {
                    "error": "invalid_client",
                    "error_description": f"AADSTS7000215: Invalid client secret provided. Ensure the secret "
                    f"being sent in the request is the client secret value, not the client secret ID, for a "
                    f"secret added to app '{client}'.",
                    "error_codes": [7000215],
                },
            )
        token = self.issue(
            {"id": client, "write": client == "osenv-writer", "list": client not in GET_ONLY, "audience": scope}
        )
        self.send(200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token})

    def identity(self):
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return None
        with LOCK:
            return STATE["tokens"].get(auth[len("Bearer "):], False)

    # -- the vault -------------------------------------------------------------------------
    def host(self):
        return f"https://{self.headers.get('Host', 'localhost')}"

    def bundle(self, name, version, with_value=True):
        v = STATE["secrets"][name]["versions"][version]
        b = {
            "id": f"{self.host()}/secrets/{name}/{version}",
            "attributes": {
                "enabled": v["enabled"],
                "created": v["created"],
                "updated": v["updated"],
                "recoveryLevel": "Recoverable+Purgeable",
                "recoverableDays": 90,
            },
            "tags": v["tags"],
        }
        if v.get("contentType"):
            b["contentType"] = v["contentType"]
        if with_value:
            b["value"] = v["value"]
        return b

    def deleted_bundle(self, name):
        d = STATE["deleted"][name]
        latest = d["latest"]
        b = {
            "recoveryId": f"{self.host()}/deletedsecrets/{name}",
            "deletedDate": d["deletedDate"],
            "scheduledPurgeDate": d["deletedDate"] + 90 * 86400,
            "id": f"{self.host()}/secrets/{name}/{latest}",
            "attributes": {
                "enabled": d["versions"][latest]["enabled"],
                "created": d["versions"][latest]["created"],
                "updated": d["versions"][latest]["updated"],
                "recoveryLevel": "Recoverable+Purgeable",
                "recoverableDays": 90,
            },
            "tags": d["versions"][latest]["tags"],
        }
        return b

    def page(self, items, query, base):
        skip = int((query.get("$skiptoken") or ["0"])[0])
        size = min(int((query.get("maxresults") or [str(PAGE)])[0]), 25)
        chunk = items[skip : skip + size]
        next_link = None
        if skip + size < len(items):
            api = query["api-version"][0]
            next_link = f"{self.host()}{base}?api-version={api}&$skiptoken={skip + size}&maxresults={size}"
        return {"value": chunk, "nextLink": next_link}

    def vault(self, method, parts, query, raw, identity):
        with LOCK:
            settle()
            secrets, deleted = STATE["secrets"], STATE["deleted"]
            waiting = in_transition(method, parts)
            if waiting:
                return waiting
            if parts and parts[0] in ("secrets", "deletedsecrets") and len(parts) >= 2:
                if not NAME.match(parts[1]):
                    return 400, error("BadParameter", f"The request URI contains an invalid name: {parts[1]}")
            lists = method == "GET" and (parts in (["secrets"], ["deletedsecrets"]) or parts[2:] == ["versions"])
            if lists and not identity.get("list", True):
                return 403, error(
                    "Forbidden",
                    f"The user, group or application 'appid={identity['id']};iss=https://sts.windows.net/{TENANT}/' "
                    "does not have secrets list permission on key vault 'osenv-test'. For help resolving this "
                    "issue, please see https://go.microsoft.com/fwlink/?linkid=2125287",
                    "AccessDenied",
                )
            writes = method in ("PUT", "PATCH", "DELETE") or (method == "POST" and parts[-1:] == ["recover"])
            if writes and not identity["write"]:
                return 403, error(
                    "Forbidden",
                    f"The user, group or application 'appid={identity['id']};iss=https://sts.windows.net/{TENANT}/' "
                    f"does not have secrets {method.lower()} permission on key vault 'osenv-test'. For help "
                    "resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287",
                    "AccessDenied",
                )
            # /secrets
            if parts == ["secrets"] and method == "GET":
                items = [
                    {k: v for k, v in self.bundle(n, s["latest"], False).items() if k != "id"}
                    | {"id": f"{self.host()}/secrets/{n}"}
                    for n, s in sorted(secrets.items())
                ]
                return 200, self.page(items, query, "/secrets")
            if len(parts) == 2 and parts[0] == "secrets":
                name = parts[1]
                if method == "PUT":
                    if name in deleted:
                        return 409, error(
                            "Conflict",
                            f"Secret {name} is currently in a deleted but recoverable state, and its name "
                            "cannot be reused; in this state, the secret can only be recovered or purged.",
                            "ObjectIsDeletedButRecoverable",
                        )
                    try:
                        params = json.loads(raw or b"{}")
                    except ValueError:
                        return 400, error("BadParameter", "The request body is not valid JSON.")
                    if not isinstance(params.get("value"), str):
                        return 400, error("BadParameter", "Property value is required.")
                    version = uuid.uuid4().hex
                    s = secrets.setdefault(name, {"versions": {}, "latest": None})
                    s["versions"][version] = {
                        "value": params["value"],
                        "enabled": (params.get("attributes") or {}).get("enabled", True),
                        "created": now(),
                        "updated": now(),
                        "tags": params.get("tags") or {},
                        "contentType": params.get("contentType"),
                    }
                    s["latest"] = version
                    return 200, self.bundle(name, version)
                if method == "GET":
                    return self.get(name, None)
                if method == "DELETE":
                    if name not in secrets:
                        return not_found(name)
                    s = secrets.pop(name)
                    deleted[name] = s | {"deletedDate": now()}
                    bundle = self.deleted_bundle(name)
                    begin(name, "delete", deleted.pop(name))
                    return 200, bundle
            if len(parts) == 3 and parts[0] == "secrets" and parts[2] == "versions" and method == "GET":
                name = parts[1]
                if name not in secrets:
                    return not_found(name)
                items = [
                    self.bundle(name, v, False)
                    for v in sorted(secrets[name]["versions"], key=lambda v: secrets[name]["versions"][v]["created"])
                ]
                return 200, self.page(items, query, f"/secrets/{name}/versions")
            if len(parts) == 3 and parts[0] == "secrets":
                name, version = parts[1], parts[2]
                if method == "GET":
                    return self.get(name, version)
                if method == "PATCH":
                    if name not in secrets or version not in secrets[name]["versions"]:
                        return not_found(f"{name}/{version}")
                    params = json.loads(raw or b"{}")
                    v = secrets[name]["versions"][version]
                    if "enabled" in (params.get("attributes") or {}):
                        v["enabled"] = params["attributes"]["enabled"]
                    if "tags" in params:
                        v["tags"] = params["tags"]
                    v["updated"] = now()
                    return 200, self.bundle(name, version, False)
            if len(parts) == 2 and parts[0] == "deletedsecrets":
                name = parts[1]
                if name not in deleted:
                    return 404, error("SecretNotFound", f"Deleted Secret not found: {name}")
                if method == "GET":
                    return 200, self.deleted_bundle(name)
                if method == "DELETE":
                    del deleted[name]
                    begin(name, "purge")
                    return 204, None
            if len(parts) == 3 and parts[0] == "deletedsecrets" and parts[2] == "recover" and method == "POST":
                name = parts[1]
                if name not in deleted:
                    return 404, error("SecretNotFound", f"Deleted Secret not found: {name}")
                d = deleted.pop(name)
                d.pop("deletedDate")
                secrets[name] = d
                bundle = self.bundle(name, d["latest"], False)
                begin(name, "recover", secrets.pop(name))
                return 200, bundle
            return 405 if parts and parts[0] in ("secrets", "deletedsecrets") else 404, error(
                "NotFound" if not parts or parts[0] not in ("secrets", "deletedsecrets") else "MethodNotAllowed",
                f"{method} {'/'.join(parts)} is not supported",
            )

    def get(self, name, version):
        secrets = STATE["secrets"]
        if name not in secrets:
            return not_found(name)
        version = version or secrets[name]["latest"]
        if version not in secrets[name]["versions"]:
            return not_found(f"{name}/{version}")
        if not secrets[name]["versions"][version]["enabled"]:
            return 403, error("Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled")
        return 200, self.bundle(name, version)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--port-file", required=True)
    args = parser.parse_args()
    https = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    https.socket = context.wrap_socket(https.socket, server_side=True)
    plain = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(args.port_file, "w") as f:
        f.write(f"{https.server_address[1]} {plain.server_address[1]}\n")
    threading.Thread(target=plain.serve_forever, daemon=True).start()
    https.serve_forever()


if __name__ == "__main__":
    main()
