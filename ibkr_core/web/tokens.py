"""Short-lived signed tokens: how a signed-in dashboard page lends its credential to the
live component's WebSocket without putting the password (or any secret) in a URL.

``issue()`` returns ``<expiry>.<nonce>.<signature>`` (HMAC-SHA256 over expiry and nonce
with a random per-process key); ``verify()`` checks signature and expiry in constant
time. A token dies with the server process (the key is never stored).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

__all__ = ["Credentials", "SessionTokens", "session_tokens", "token_matches"]

DEFAULT_TTL = 15 * 60.0


@dataclass
class SessionTokens:
    ttl: float = DEFAULT_TTL
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    def _sign(self, payload: str) -> str:
        return hmac.new(self.key, payload.encode(), hashlib.sha256).hexdigest()

    def issue(self, now: float | None = None) -> str:
        expiry = int((now if now is not None else time.time()) + self.ttl)
        payload = f"{expiry}.{secrets.token_hex(8)}"
        return f"{payload}.{self._sign(payload)}"

    def verify(self, token: str | None, now: float | None = None) -> bool:
        if not token or token.count(".") != 2:
            return False
        payload, _, signature = token.rpartition(".")
        if not hmac.compare_digest(self._sign(payload), signature):
            return False
        try:
            expiry = int(payload.split(".", 1)[0])
        except ValueError:
            return False
        return (now if now is not None else time.time()) < expiry


def token_matches(expected: str, presented: str | None) -> bool:
    """Constant time over SHA-256 digests (the length does not leak either)."""
    if not expected:
        return True
    if not presented:
        return False
    a = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).digest()
    b = hashlib.sha256(expected.encode("utf-8")).digest()
    return hmac.compare_digest(a, b)


_tokens: SessionTokens | None = None
_lock = threading.Lock()


def session_tokens() -> SessionTokens:
    """The process's token signer (one key per server process)."""
    global _tokens
    with _lock:
        if _tokens is None:
            _tokens = SessionTokens()
        return _tokens


@dataclass(frozen=True)
class Credentials:
    """What a custom route accepts: the API token, or a signed-in session's token.

    ``required``: an API token or a dashboard password is set; then every request
    needs one of them (an open dashboard needs none, like the dashboard itself)."""

    api_token: str = field(default="", repr=False)
    password_set: bool = False
    tokens: SessionTokens = field(default_factory=session_tokens, repr=False)

    @property
    def required(self) -> bool:
        return bool(self.api_token) or self.password_set

    def accepts(self, presented: str | None) -> bool:
        if not self.required:
            return True
        if not presented:
            return False
        if self.api_token and token_matches(self.api_token, presented):
            return True
        return self.password_set and self.tokens.verify(presented)
