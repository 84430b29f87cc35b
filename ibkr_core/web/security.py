"""ASGI middleware in front of every route: Host allow-list, same-origin and CSRF rules.

- **Host allow-list** (DNS rebinding): a request whose ``Host`` header names a host
  outside ``allowed_hosts`` (loopback names by default) is refused, HTTP and WebSocket,
  on the dashboard and the API alike. ``*`` accepts any host, ``*.example.com`` a
  domain's subdomains.
- **Origin** (cross-site WebSockets, CSRF): a WebSocket or a state-changing request
  (anything but GET / HEAD / OPTIONS) whose ``Origin`` is not this server's own origin
  (nor in ``allowed_origins``) is refused; so is one the browser marks
  ``Sec-Fetch-Site: cross-site`` / ``same-site`` without an allowed ``Origin``.
- **A header a simple request cannot set**: a POST under ``csrf_prefixes`` needs a JSON
  body (``Content-Type: application/json``), an ``Authorization`` header or an
  ``X-Requested-With`` header; a body-less ``fetch(..., {mode: "no-cors"})`` has none.
- **No secrets in URLs**: a query string carrying ``token=`` (or ``api_token=``,
  ``access_token=``) is refused before anything logs it; ``RedactSecrets`` scrubs any
  that reach a log line anyway.

Refusals are plain: HTTP 403 / 400 with a JSON ``detail``; a WebSocket is closed before
it is accepted (the client sees HTTP 403).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = [
    "LOOPBACK_HOSTS",
    "AccessPolicy",
    "RedactSecrets",
    "SecurityMiddleware",
    "install_log_redaction",
    "is_loopback",
    "redact",
]

LOOPBACK_HOSTS: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SECRET_QUERY = re.compile(r"(?i)([?&](?:api_token|access_token|token)=)[^&\s\"']*")
POLICY_VIOLATION = 1008


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]").lower()
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def redact(text: str) -> str:
    """``/x?token=abc&y=1`` -> ``/x?token=<redacted>&y=1``."""
    return SECRET_QUERY.sub(r"\1<redacted>", text)


@dataclass(frozen=True)
class AccessPolicy:
    """Who may talk to the server. ``allowed_origins`` are full origins
    (``https://dash.example.com``) accepted besides the server's own."""

    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS
    allowed_origins: tuple[str, ...] = ()
    csrf_prefixes: tuple[str, ...] = ("/api/",)

    @classmethod
    def from_lists(
        cls,
        hosts: Iterable[str] | str = "",
        origins: Iterable[str] | str = "",
        csrf_prefixes: tuple[str, ...] = ("/api/",),
    ) -> AccessPolicy:
        """From settings strings (comma separated) or lists; empty hosts: loopback only."""
        host_list = _split(hosts) or list(LOOPBACK_HOSTS)
        origin_list = [o.rstrip("/").lower() for o in _split(origins)]
        return cls(tuple(h.lower() for h in host_list), tuple(origin_list), csrf_prefixes)

    def host_allowed(self, host: str) -> bool:
        name = _hostname(host)
        if not name:
            return False
        for allowed in self.allowed_hosts:
            allowed = allowed.strip("[]")
            if allowed == "*" or allowed == name:
                return True
            if allowed.startswith("*.") and name.endswith(allowed[1:]):
                return True
        return False

    def origin_allowed(self, origin: str, scheme: str, host: str) -> bool:
        origin = origin.rstrip("/").lower()
        if origin in self.allowed_origins:
            return True
        parts = urlsplit(origin)
        if not parts.scheme or not parts.netloc:
            return False  # "null" (sandboxed frames, file://) and garbage
        own_scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
        return parts.scheme == own_scheme and parts.netloc == host.lower()


def _split(value: Iterable[str] | str) -> list[str]:
    items = value.split(",") if isinstance(value, str) else list(value)
    return [i.strip() for i in items if i and i.strip()]


def _hostname(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:8501
        return host[1 : host.find("]")] if "]" in host else ""
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or ()}


class SecurityMiddleware:
    """Refuses foreign Hosts, cross-site state changes and tokens in URLs (see module)."""

    def __init__(self, app: ASGIApp, policy: AccessPolicy | None = None) -> None:
        self.app = app
        self.policy = policy or AccessPolicy()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        problem = self.problem(scope)
        if problem is None:
            await self.app(scope, receive, send)
            return
        status, detail = problem
        logging.getLogger(__name__).info(
            "refused %s %s: %s", scope["type"], redact(scope.get("path", "")), detail
        )
        if scope["type"] == "websocket":
            await receive()  # websocket.connect; closing now answers HTTP 403
            await send({"type": "websocket.close", "code": POLICY_VIOLATION, "reason": detail})
            return
        body = json.dumps({"detail": detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def problem(self, scope: Scope) -> tuple[int, str] | None:
        """(status, why) when the request must be refused, else None."""
        headers = _headers(scope)
        host = headers.get("host", "")
        if not self.policy.host_allowed(host):
            return 403, "Host not allowed (set allowed_hosts to serve under another name)"
        query = scope.get("query_string", b"").decode("latin-1")
        if SECRET_QUERY.search("?" + query):
            return 400, "Tokens go in the Authorization header (or a first WebSocket message)"
        websocket = scope["type"] == "websocket"
        method = scope.get("method", "GET").upper()
        if not websocket and method in SAFE_METHODS:
            return None
        origin = headers.get("origin")
        if origin is not None:
            if not self.policy.origin_allowed(origin, scope.get("scheme", "http"), host):
                return 403, "Cross-origin request refused"
        elif headers.get("sec-fetch-site", "") in ("cross-site", "same-site"):
            return 403, "Cross-site request refused"
        if websocket or method != "POST":
            return None  # other methods need a CORS preflight, which we never grant
        path = scope.get("path", "")
        if any(path.startswith(p) for p in self.policy.csrf_prefixes):
            content_type = headers.get("content-type", "").split(";")[0].strip().lower()
            custom = "authorization" in headers or "x-requested-with" in headers
            if content_type != "application/json" and not custom:
                return 403, (
                    "POST needs Content-Type: application/json (an empty body is {}), "
                    "an Authorization header or X-Requested-With"
                )
        return None


class RedactSecrets(logging.Filter):
    """Replaces ``token=...`` in a log record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install_log_redaction(names: Iterable[str] = ("uvicorn.access", "uvicorn.error")) -> None:
    """Put ``RedactSecrets`` on the server's access and error loggers (idempotent)."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
