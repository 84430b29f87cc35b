"""The optional bearer token (``settings.api_token``) in front of every route.

An ASGI middleware, so nothing is left out: HTTP routes, the OpenAPI document and the
WebSocket stream. HTTP clients send ``Authorization: Bearer <token>``; WebSocket clients
may send the same header or, since browsers cannot set headers on a WebSocket, a
``?token=<token>`` query parameter. The comparison is constant-time over SHA-256
digests (the length does not leak either). The token is never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["BearerTokenMiddleware", "token_matches"]

UNAUTHORIZED = "Missing or invalid bearer token (Authorization: Bearer <api_token>)."
POLICY_VIOLATION = 1008


def token_matches(expected: str, presented: str | None) -> bool:
    if not expected:
        return True
    if not presented:
        return False
    a = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).digest()
    b = hashlib.sha256(expected.encode("utf-8")).digest()
    return hmac.compare_digest(a, b)


def _presented_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers") or ():
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip()
    if scope["type"] == "websocket":
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        values = query.get("token")
        if values:
            return values[0]
    return None


class BearerTokenMiddleware:
    """Reject every HTTP request (401) and WebSocket (close 1008) without the token."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self.token:
            await self.app(scope, receive, send)
            return
        if token_matches(self.token, _presented_token(scope)):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await receive()  # websocket.connect: then refuse (servers answer 403)
            close = {"type": "websocket.close", "code": POLICY_VIOLATION, "reason": "unauthorized"}
            await send(close)
            return
        body = json.dumps({"detail": UNAUTHORIZED}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer realm="ibkr-dashboard"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
