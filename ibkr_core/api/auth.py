"""Credentials in front of every route: the API token and, with a dashboard password
set, a signed-in session's short-lived token (``ibkr_core.web.tokens``).

An ASGI middleware, so nothing is left out: HTTP routes, the OpenAPI document and the
WebSocket streams. HTTP clients send ``Authorization: Bearer <token>``. WebSocket
clients send the same header or, since browsers cannot set headers on a WebSocket, a
first message ``{"action": "auth", "token": "<token>"}`` (``authenticate_websocket``).
Tokens are never read from a URL (``SecurityMiddleware`` refuses ``?token=``), so none
reaches an access log.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from ibkr_core.web.tokens import Credentials, token_matches

__all__ = ["AuthMiddleware", "authenticate_websocket", "token_matches"]

UNAUTHORIZED = (
    "Missing or invalid bearer token (Authorization: Bearer <api_token>, or a signed-in "
    "dashboard session's token)."
)
POLICY_VIOLATION = 1008
AUTH_TIMEOUT = 5.0


def _presented_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers") or ():
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip()
    return None


class AuthMiddleware:
    """HTTP without an accepted token: 401. A WebSocket without one goes on, marked
    ``scope["state"]["ws_auth"] = credentials``: its route must call
    ``authenticate_websocket`` (first message) before sending anything."""

    def __init__(self, app: ASGIApp, credentials: Credentials) -> None:
        self.app = app
        self.credentials = credentials

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self.credentials.required:
            await self.app(scope, receive, send)
            return
        if self.credentials.accepts(_presented_token(scope)):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            scope.setdefault("state", {})["ws_auth"] = self.credentials
            await self.app(scope, receive, send)
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


async def authenticate_websocket(websocket: WebSocket, timeout: float = AUTH_TIMEOUT) -> bool:
    """(After ``accept``.) True when the connection may go on: its header carried an
    accepted token, or its first message is ``{"action": "auth", "token": ...}`` with
    one. Otherwise the socket is closed with 1008 and False returned."""
    credentials: Credentials | None = websocket.scope.get("state", {}).get("ws_auth")
    if credentials is None:
        return True
    try:
        message = await asyncio.wait_for(websocket.receive(), timeout)
    except TimeoutError:
        message = {}
    token: Any = None
    text = message.get("text")
    if text:
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("action") == "auth":
            token = body.get("token")
    if message.get("type") == "websocket.disconnect":
        return False
    if isinstance(token, str) and credentials.accepts(token):
        return True
    await websocket.close(POLICY_VIOLATION, "unauthorized")
    return False
