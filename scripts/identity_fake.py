"""The identity endpoints a pod or CI job logs in with, faked for the tests (run by scripts/testbed).

    python identity_fake.py --port-file FILE

One plain-HTTP server on loopback, with its own RSA key (RS256), that plays:

- the issuer of service-account tokens (Kubernetes) and OIDC tokens (a CI system): `POST /mint`
  signs a token with the claims the test asks for (tests only);
- the Kubernetes TokenReview API OpenBao's `kubernetes` auth calls
  (`POST /apis/authentication.k8s.io/v1/tokenreviews`): a token is authenticated when this key
  signed it, it has not expired and it was not revoked (`POST /revoke`);
- GitHub Actions' OIDC token endpoint (`GET /github/token?audience=...`, bearer
  ACTIONS_REQUEST_TOKEN);
- AWS STS `AssumeRoleWithWebIdentity` (`POST /aws/sts`, IRSA) and the EKS Pod Identity agent
  (`GET /aws/pod-identity`, the token file's content in `Authorization`);
- Google's STS token exchange (`POST /google/sts`, Workload Identity Federation) and a URL a
  subject token is read from (`GET /google/subject-token`).

What each endpoint saw is counted (`GET /stats`); the public key is `GET /public-key`.
It follows the public API references of each service for shapes and status codes; it is a test
double, not a security boundary.
"""

import argparse
import base64
import json
import os
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

K8S_ISSUER = "https://kubernetes.default.svc.cluster.local"
ACTIONS_REQUEST_TOKEN = "osenv-test-actions-request-token"
GITHUB_REPOSITORY = "acme/litellm-config"

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ROGUE = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KID = "osenv-test"
STATS = Counter()
SEEN = {}  # endpoint -> the last token it was shown
REVOKED = set()
LOCK = threading.Lock()
ISSUER = None  # this server's own URL, set at start: the OIDC issuer of `jwt` tokens


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(claims, key=KEY):
    header = {"alg": "RS256", "typ": "JWT", "kid": KID}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64(signature)}"


def verify(token):
    """The claims of a token this server signed that is still valid, else (None, why)."""
    try:
        head, body, signature = token.split(".")
        KEY.public_key().verify(
            unb64(signature), f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256()
        )
        claims = json.loads(unb64(body))
    except (ValueError, InvalidSignature):
        return None, "invalid bearer token, token lookup failed"
    if claims.get("exp", 0) < time.time():
        return None, "invalid bearer token, Token has expired."
    if claims.get("jti") in REVOKED:
        return None, "invalid bearer token, service account token has been invalidated"
    return claims, None


def mint(request):
    """A token with the claims asked for: `kind` kubernetes (a projected service-account token)
    or jwt (an OIDC token from this issuer); `ttl` seconds (negative: already expired);
    `rogue` signs with a key nobody trusts."""
    now = int(time.time())
    ttl = int(request.get("ttl", 3600))
    claims = {"iat": now, "nbf": now - 5, "exp": now + ttl, "jti": str(uuid.uuid4())}
    if request.get("kind", "kubernetes") == "kubernetes":
        ns = request.get("namespace", "default")
        sa = request.get("serviceaccount", "litellm")
        claims.update(
            {
                "iss": K8S_ISSUER,
                "aud": request.get("aud", [K8S_ISSUER]),
                "sub": f"system:serviceaccount:{ns}:{sa}",
                "kubernetes.io": {
                    "namespace": ns,
                    "pod": {"name": f"{sa}-7d9f-x2x4q", "uid": str(uuid.uuid4())},
                    "serviceaccount": {"name": sa, "uid": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{ns}/{sa}"))},
                },
            }
        )
    else:
        claims.update(
            {
                "iss": ISSUER,
                "aud": request.get("aud", "vault"),
                "sub": request.get("sub", "ci-job"),
                "repository": request.get("repository", GITHUB_REPOSITORY),
            }
        )
    return sign(claims, ROGUE if request.get("rogue") else KEY)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet; the counts tell what happened
        pass

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def answer(self, status, payload, content_type="application/json"):
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def count(self, what, token=None):
        with LOCK:
            STATS[what] += 1
            if token is not None:
                SEEN[what] = token

    def do_GET(self):
        url = urlparse(self.path)
        url = url._replace(path=url.path.rstrip("/") or "/")
        query = parse_qs(url.query)
        if url.path == "/stats":
            with LOCK:
                return self.answer(200, {"counts": dict(STATS), "seen": dict(SEEN)})
        if url.path == "/public-key":
            pem = KEY.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            return self.answer(200, pem, "application/x-pem-file")
        if url.path == "/github/token":
            # GitHub: GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=AUD with the request token.
            if self.headers.get("Authorization") != f"Bearer {ACTIONS_REQUEST_TOKEN}":
                self.count("github.denied")
                return self.answer(401, {"message": "Bad credentials"})
            if query.get("api-version") != ["2.0"]:
                return self.answer(400, {"message": "api-version is required"})
            audience = query.get("audience", [None])[0]
            self.count("github.token", audience)
            claims = {"kind": "jwt", "sub": f"repo:{GITHUB_REPOSITORY}:ref:refs/heads/main"}
            if audience:
                claims["aud"] = audience
            return self.answer(200, {"count": 1, "value": mint(claims)})
        if url.path == "/aws/pod-identity":
            # The EKS Pod Identity agent: the token file's content as the Authorization header.
            token = self.headers.get("Authorization", "")
            claims, why = verify(token)
            if claims is None or "pods.eks.amazonaws.com" not in claims.get("aud", []):
                self.count("aws.pod-identity.denied")
                return self.answer(401, {"message": why or "audience is not pods.eks.amazonaws.com"})
            self.count("aws.pod-identity", token)
            expiration = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
            return self.answer(
                200,
                {
                    "AccessKeyId": "ASIAPODIDENTITYTEST",
                    "SecretAccessKey": "pod-identity-secret-access-key",
                    "Token": "pod-identity-session-token",
                    "AccountId": "123456789012",
                    "Expiration": expiration,
                },
            )
        if url.path == "/google/subject-token":
            # A URL-sourced subject token (as a metadata server would serve one), JSON format.
            if self.headers.get("Metadata-Flavor") != "Google":
                return self.answer(403, {"error": "missing Metadata-Flavor header"})
            token = mint({"kind": "jwt", "aud": "//iam.googleapis.com/osenv-test-pool", "sub": "url-sourced"})
            self.count("google.subject-token")
            return self.answer(200, {"id_token": token})
        return self.answer(404, {"message": f"no route {url.path}"})

    def do_POST(self):
        # The SDKs put a `/` after an endpoint URL's path (`AWS_ENDPOINT_URL_STS=…/aws/sts`).
        url = urlparse(self.path)
        url = url._replace(path=url.path.rstrip("/") or "/")
        raw = self.body()
        if url.path == "/mint":
            return self.answer(200, mint(json.loads(raw or b"{}")).encode(), "application/jwt")
        if url.path == "/revoke":
            token = raw.decode().strip()
            claims = json.loads(unb64(token.split(".")[1]))
            with LOCK:
                REVOKED.add(claims["jti"])
            return self.answer(200, {})
        if url.path == "/apis/authentication.k8s.io/v1/tokenreviews":
            review = json.loads(raw)
            token = review.get("spec", {}).get("token", "")
            claims, why = verify(token)
            status = {"authenticated": False, "error": why}
            if claims is not None and claims.get("iss") == K8S_ISSUER:
                sa = claims["kubernetes.io"]
                ns, name = sa["namespace"], sa["serviceaccount"]["name"]
                status = {
                    "authenticated": True,
                    "user": {
                        "username": claims["sub"],
                        "uid": sa["serviceaccount"]["uid"],
                        "groups": ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"],
                        "extra": {"authentication.kubernetes.io/pod-name": [sa["pod"]["name"]]},
                    },
                    "audiences": claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]],
                }
                self.count("kubernetes.tokenreview", token)
            else:
                self.count("kubernetes.tokenreview.denied")
            return self.answer(
                201,
                {
                    "kind": "TokenReview",
                    "apiVersion": "authentication.k8s.io/v1",
                    "metadata": {"creationTimestamp": None},
                    "spec": review.get("spec", {}),
                    "status": status,
                },
            )
        if url.path == "/aws/sts":
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            if form.get("Action") != "AssumeRoleWithWebIdentity":
                return self.answer(400, b"<ErrorResponse/>", "text/xml")
            token = form.get("WebIdentityToken", "")
            claims, _ = verify(token)
            if claims is None or "sts.amazonaws.com" not in claims.get("aud", []):
                self.count("aws.sts.denied")
                error = (
                    '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
                    "<Code>InvalidIdentityToken</Code><Message>Couldn't verify the token</Message></Error>"
                    "<RequestId>osenv-test</RequestId></ErrorResponse>"
                )
                return self.answer(400, error.encode(), "text/xml")
            self.count("aws.sts", token)
            role = form.get("RoleArn", "")
            session = form.get("RoleSessionName", "")
            expiration = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
            xml = f"""<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>{claims["sub"]}</SubjectFromWebIdentityToken>
    <Audience>sts.amazonaws.com</Audience>
    <AssumedRoleUser><Arn>{role}/{session}</Arn><AssumedRoleId>AROATEST:{session}</AssumedRoleId></AssumedRoleUser>
    <Credentials>
      <SessionToken>irsa-session-token</SessionToken>
      <SecretAccessKey>irsa-secret-access-key</SecretAccessKey>
      <Expiration>{expiration}</Expiration>
      <AccessKeyId>ASIAIRSATEST</AccessKeyId>
    </Credentials>
    <Provider>{K8S_ISSUER}</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>osenv-test</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>"""
            return self.answer(200, xml.encode(), "text/xml")
        if url.path == "/google/sts":
            # https://cloud.google.com/iam/docs/reference/sts/rest/v1/TopLevel/token
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            token = form.get("subject_token", "")
            claims, why = verify(token)
            if (
                form.get("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange"
                or claims is None
                or not str(claims.get("aud", "")).startswith("//iam.googleapis.com/")
            ):
                self.count("google.sts.denied")
                return self.answer(
                    400, {"error": "invalid_grant", "error_description": why or "The audience is not valid."}
                )
            self.count("google.sts", token)
            return self.answer(
                200,
                {
                    "access_token": "ya29.osenv-test-federated",
                    "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                    "token_type": "Bearer",
                    "expires_in": 3600,
                },
            )
        return self.answer(404, {"message": f"no route {url.path}"})


def main():
    global ISSUER
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    ISSUER = f"http://127.0.0.1:{server.server_address[1]}"
    with open(args.port_file + ".tmp", "w") as f:
        f.write(f"{server.server_address[1]}\n")
    os.replace(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
