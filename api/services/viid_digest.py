"""HTTP digest authentication (RFC 7616, with RFC 2617's MD5 that GA/T 1400 devices use) for the 视图库.

Nonces are signed with the api's secret and carry their time, so any replica can check them; a nonce older
than NONCE_TTL_S is answered `stale=true` and the device simply retries. A response is good once: the
(nonce, cnonce, nc) of every accepted request is kept until its nonce expires, and the same credentials sent
again (a replay of a captured request) are refused as stale, so an honest device that reused them gets a
fresh nonce. The memory of used responses is per process (a replay sent to another replica within the
nonce's lifetime is not caught) and bounded (MAX_SEEN; the oldest go first).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import urlsplit

NONCE_TTL_S = 300.0
MAX_SEEN = 100_000
_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def _h(text: str, algorithm: str = "MD5") -> str:
    name = "sha256" if algorithm.upper().startswith("SHA-256") else "md5"
    return hashlib.new(name, text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class DigestCheck:
    ok: bool
    username: str = ""
    stale: bool = False
    reason: str = ""


class DigestAuth:
    def __init__(self, secret: str, realm: str) -> None:
        self.secret = secret.encode("utf-8")
        self.realm = realm
        self._seen: OrderedDict[tuple[str, str, str], float] = OrderedDict()   # response -> when accepted
        self._seen_lock = threading.Lock()

    def _first_use(self, key: tuple[str, str, str], now: float) -> bool:
        """True the first time these credentials are accepted within a nonce's lifetime."""
        with self._seen_lock:
            while self._seen:
                oldest, at = next(iter(self._seen.items()))
                if at >= now - NONCE_TTL_S and len(self._seen) < MAX_SEEN:
                    break
                del self._seen[oldest]
            if key in self._seen:
                return False
            self._seen[key] = now
            return True

    def _sign(self, stamp: str) -> str:
        return hmac.new(self.secret, f"viid-nonce:{stamp}".encode(), hashlib.sha256).hexdigest()[:24]

    def nonce(self, now: float | None = None) -> str:
        stamp = f"{(now if now is not None else time.time()):.3f}"
        return f"{stamp.replace('.', '')}{self._sign(stamp)}"

    def _nonce_age(self, nonce: str, now: float) -> float | None:
        """Seconds since the nonce was made here, or None when it is not ours."""
        stamp_digits, sig = nonce[:-24], nonce[-24:]
        if len(stamp_digits) < 4 or not stamp_digits.isdigit():
            return None
        stamp = f"{stamp_digits[:-3]}.{stamp_digits[-3:]}"
        if not hmac.compare_digest(sig, self._sign(stamp)):
            return None
        return now - float(stamp)

    def challenge(self, stale: bool = False) -> str:
        """The WWW-Authenticate header of a 401."""
        opaque = hashlib.md5(self.realm.encode()).hexdigest()
        return (f'Digest realm="{self.realm}", qop="auth", nonce="{self.nonce()}", opaque="{opaque}", '
                f'algorithm=MD5, stale={"true" if stale else "false"}')

    def check(self, header: str | None, method: str, passwords: dict[str, str],
              now: float | None = None, path: str | None = None) -> DigestCheck:
        """Check an Authorization header against the known users' passwords."""
        if not header or not header[:7].lower() == "digest ":
            return DigestCheck(False, reason="no digest credentials: answer the challenge (HTTP digest)")
        params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
                  for m in _PARAM.finditer(header[7:])}
        user, nonce, uri, got = (params.get(k, "") for k in ("username", "nonce", "uri", "response"))
        if not (user and nonce and uri and got):
            return DigestCheck(False, reason="digest credentials lack username, nonce, uri or response")
        if path is not None and urlsplit(uri).path != path:
            return DigestCheck(False, username=user, reason=f"digest uri {uri!r} is not this request's path")
        password = passwords.get(user)
        if password is None:
            return DigestCheck(False, username=user, reason=f"device {user} is not registered here "
                               "(add it to viid.devices of the api's GA/T 1400 config)")
        if params.get("realm", self.realm) != self.realm:
            return DigestCheck(False, username=user, reason=f"wrong realm; this server's is {self.realm!r}")
        age = self._nonce_age(nonce, now if now is not None else time.time())
        if age is None:
            return DigestCheck(False, username=user, stale=True, reason="nonce not issued by this server")
        algorithm = params.get("algorithm", "MD5")
        ha1 = _h(f"{user}:{self.realm}:{password}", algorithm)
        ha2 = _h(f"{method.upper()}:{uri}", algorithm)
        qop = params.get("qop")
        if qop:
            nc, cnonce = params.get("nc", ""), params.get("cnonce", "")
            want = _h(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}", algorithm)
        else:
            want = _h(f"{ha1}:{nonce}:{ha2}", algorithm)
        if not hmac.compare_digest(want, got.lower()):
            return DigestCheck(False, username=user, reason=f"wrong password for device {user}")
        if age > NONCE_TTL_S:
            return DigestCheck(False, username=user, stale=True, reason="nonce expired: retry with a new one")
        if not self._first_use((nonce, params.get("cnonce", ""), params.get("nc", "")),
                               now if now is not None else time.time()):
            return DigestCheck(False, username=user, stale=True,
                               reason="these digest credentials were used already (a replay?): answer a new "
                               "challenge, with a new nc or nonce for each request")
        return DigestCheck(True, username=user)
