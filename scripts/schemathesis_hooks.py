"""Schemathesis hooks for scripts/schemathesis.sh: log in as one back-office role and give
every generated request that role's API token.

Run as a program first (`python3 schemathesis_hooks.py`), it logs every role in once and
prints their sessions (cookie and CSRF token) as JSON: logins are limited to 10 a minute per
address, and a fuzzer trying wrong passwords must not lock a role out before its turn. Loaded
by Schemathesis (SCHEMATHESIS_HOOKS), it takes the session of SUANPAN_ST_USER from the file
SUANPAN_ST_SESSIONS and makes API tokens with it, outside the generated traffic: the fuzzer
can call DELETE /api/v1/session or revoke tokens by id without cutting its own credentials,
because the token is checked before use and a new one made when it was revoked. An admin
enrols TOTP at its login (the secret is turned into codes here, RFC 6238).
"""

import base64
import hashlib
import hmac
import http.cookiejar
import json
import os
import struct
import time
import urllib.error
import urllib.request

import schemathesis

BASE = os.environ["SUANPAN_ST_BASE"].rstrip("/")


def totp(secret_b32: str, at: float) -> str:
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(at) // 30), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[off : off + 4])[0] & 0x7FFFFFFF) % 1_000_000)


class Session:
    """A cookie session of the role, used only to make API tokens."""

    def __init__(self, cookie: str = "", csrf: str = "") -> None:
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        self.cookie = cookie
        self.csrf = csrf

    def call(self, method: str, path: str, body=None, headers=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(BASE + path, data=data, method=method)
        req.add_header("content-type", "application/json")
        if self.csrf:
            req.add_header("x-csrf-token", self.csrf)
        if self.cookie:
            req.add_header("cookie", self.cookie)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        with self.opener.open(req, timeout=30) as resp:
            text = resp.read()
            return json.loads(text) if text else None

    def login(self, user: str, password: str) -> None:
        req = urllib.request.Request(
            BASE + "/api/v1/session",
            data=json.dumps({"username": user, "password": password}).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            out = json.loads(resp.read())
            self.cookie = resp.headers["set-cookie"].split(";")[0]
        self.csrf = out["csrf_token"]
        if out.get("totp_enrolment_required"):
            offer = self.call("GET", "/api/v1/totp")
            self.call("POST", "/api/v1/totp", {"code": totp(offer["secret"], time.time())})

    def new_token(self) -> str:
        return self.call("POST", "/api/v1/tokens", {"name": "schemathesis"})["token"]


def token_works(token: str) -> bool:
    req = urllib.request.Request(BASE + "/api/v1/session", headers={"authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(req, timeout=30):
            return True
    except urllib.error.HTTPError:
        return False


if __name__ == "__main__":
    sessions = {}
    for role in os.environ["SUANPAN_ST_ROLES"].split():
        s = Session()
        s.login(role, role + "-demo")
        sessions[role] = {"cookie": s.cookie, "csrf": s.csrf}
    print(json.dumps(sessions))
    raise SystemExit(0)

with open(os.environ["SUANPAN_ST_SESSIONS"]) as f:
    SESSION = Session(**json.load(f)[os.environ["SUANPAN_ST_USER"]])


def has_float(value) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(has_float(v) for v in value.values())
    if isinstance(value, list):
        return any(has_float(v) for v in value)
    return False


@schemathesis.hook
def filter_body(ctx, body):
    """Drops bodies holding a JSON number written with a fraction part (`148.0`, `1.0`).

    JSON Schema counts 148.0 as an integer, so the generator offers it as schema-valid; the
    API has no decimal fields and refuses every JSON float on purpose (amounts: fen are
    counted, json.amount_float; ids: whole numbers), which the schema language cannot state.
    Only these cases are dropped.
    """
    return not has_float(body)


@schemathesis.auth(refresh_interval=2)
class RoleToken:
    token = ""

    def get(self, case, ctx):
        if not (self.token and token_works(self.token)):
            self.token = SESSION.new_token()
        return self.token

    def set(self, case, data, ctx):
        case.headers = case.headers or {}
        case.headers["Authorization"] = "Bearer " + data
