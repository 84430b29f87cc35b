"""``WS /api/live``: the dashboard's push stream (what the live component subscribes to).

Unlike the API's per-quote stream, one message carries everything that changed since
the last one, and a client gets at most ``settings.push_rate`` messages a second (4 by
default): a burst of ticks is coalesced into the latest values per symbol.

Protocol (JSON text frames)::

    client -> {"action": "auth", "token": "..."}        (first, when a token is required)
    client -> {"action": "subscribe", "symbols": ["AAPL", "MSFT"]}
    server -> {"type": "update", "time": ..., "quotes": {"AAPL": {...}, ...},
               "status": {...}}                           (each part only when it changed)

A quote is ``QuoteResponse`` (the API's quote) plus ``error``; ``status`` is the
connection's state with the badge's label and colour. Fed by events of ibkr_core, not
by polling: the quote hub wakes on ib_async's ticker updates, the status on
``IBKRConnection.status_changed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from datetime import UTC, datetime
from typing import Any

import anyio
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from ibkr_core.api.auth import authenticate_websocket
from ibkr_core.api.deps import ApiContext, get_context
from ibkr_core.api.stream import MAX_SYMBOLS, SEND_TIMEOUT, QuoteHub, Subscriber, quote_message
from ibkr_core.connection import ConnectionState, ConnectionStatus, normalize_symbol
from ibkr_core.data_state import quote_view

__all__ = ["LIVE_PATH", "MIN_INTERVAL", "router", "state_key", "status_message"]

log = logging.getLogger(__name__)

LIVE_PATH = "/api/live"
MIN_INTERVAL = 0.25  # s between two messages to one client: at most 4 a second
MAX_MESSAGE_BYTES = 16_384

router = APIRouter(tags=["live"])


def state_key(status: ConnectionStatus) -> str:
    """What a page redraws for when it changes: the state and the link to IBKR."""
    return f"{status.state}/{status.connectivity}/{status.view.key}"


def status_message(status: ConnectionStatus) -> dict[str, Any]:
    """The sidebar badge's content: state, label, colour, paper/live, account."""
    if status.state == ConnectionState.CONNECTED:
        label, color = (
            ("Degraded: TWS lost its link to IBKR", "orange")
            if status.degraded
            else ("Connected", "green")
        )
    elif status.state == ConnectionState.CONNECTING:
        label, color = "Connecting…", "blue"
    elif status.state == ConnectionState.RECONNECTING:
        attempt = f" (attempt {status.reconnect_attempts})" if status.reconnect_attempts else ""
        label, color = f"Reconnecting{attempt}", "orange"
    else:
        label, color = "Disconnected", "gray"
    return {
        "state": str(status.state),
        "key": state_key(status),
        "label": label,
        "color": color,
        "paper": status.is_paper,
        "accounts": list(status.accounts),
    }


class _LiveSession:
    def __init__(self, ws: WebSocket, ctx: ApiContext, hub: QuoteHub, min_interval: float):
        self.ws = ws
        self.ctx = ctx
        self.hub = hub
        self.min_interval = min_interval
        self.sub = Subscriber(max_symbols=MAX_SYMBOLS)
        self.stale_after = float(ctx.settings.stale_after)
        self.status: dict[str, Any] | None = status_message(ctx.services.connection.status())
        self.sent_status: dict[str, Any] | None = None
        self.loop = asyncio.get_running_loop()
        self.sent = 0

    # -- status events (IBKR loop thread -> this loop) ---------------------------------
    def _on_status(self, status: ConnectionStatus) -> None:
        with contextlib.suppress(RuntimeError):  # our loop is closing
            self.loop.call_soon_threadsafe(self._set_status, status_message(status))

    def _set_status(self, message: dict[str, Any]) -> None:
        self.status = message
        self.sub.ready.set()

    def _hook_status(self, on: bool) -> None:
        event = self.ctx.services.connection.status_changed

        def apply() -> None:
            if on:
                event.connect(self._on_status)
            else:
                event.disconnect(self._on_status)

        with contextlib.suppress(Exception):
            self.ctx.services.connection.loop.call_soon(apply)

    # -- loops --------------------------------------------------------------------------
    async def run(self) -> None:
        self.hub.attach(self.sub)
        self._hook_status(True)
        self.sub.ready.set()  # the first message: the current status
        try:
            async with anyio.create_task_group() as tg:
                for loop in (self._receive_loop, self._send_loop):
                    tg.start_soon(self._until_first_ends, loop, tg.cancel_scope)
        finally:
            self._hook_status(False)
            self.hub.detach(self.sub)

    @staticmethod
    async def _until_first_ends(loop: Any, scope: anyio.CancelScope) -> None:
        try:
            await loop()
        except (WebSocketDisconnect, OSError, RuntimeError, TimeoutError) as exc:
            log.debug("live stream: %s ended: %r", loop.__name__, exc)
        finally:
            scope.cancel()

    async def _send_loop(self) -> None:
        while True:
            await self.sub.ready.wait()
            message: dict[str, Any] = {"type": "update", "time": datetime.now(UTC).isoformat()}
            quotes = {}
            session = self.ctx.services.connection.status().view
            for symbol, quote in self.sub.take():
                body = quote_message(quote, self.stale_after)
                view = quote_view(quote, None, session)  # the page's own row words
                body.update(symbol=symbol, source_text=view.source_text)
                body["status_text"] = view.status_text
                quotes[symbol] = body
            if quotes:
                message["quotes"] = quotes
            if self.status is not None and self.status != self.sent_status:
                message["status"] = self.sent_status = self.status
            if len(message) > 2:
                with anyio.fail_after(SEND_TIMEOUT):
                    await self.ws.send_text(json.dumps(message, separators=(",", ":")))
                self.sent += 1
            await asyncio.sleep(self.min_interval)  # coalesce what arrives meanwhile

    async def _receive_loop(self) -> None:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000))
            text = message.get("text")
            if text is None or len(text) > MAX_MESSAGE_BYTES:
                await self._error("send JSON text messages (at most 16 KiB)")
                continue
            try:
                body = json.loads(text)
            except ValueError:
                body = None
            if not isinstance(body, dict) or body.get("action") != "subscribe":
                await self._error('expected {"action": "subscribe", "symbols": [...]}')
                continue
            symbols = body.get("symbols")
            if not isinstance(symbols, list):
                await self._error("'symbols' must be a list")
                continue
            keys = {
                normalize_symbol(s): s.strip().upper()
                for s in symbols[:MAX_SYMBOLS]
                if isinstance(s, str) and s.strip()
            }
            self.sub.remove([k for k in list(self.sub.symbols) if k not in keys])
            if self.sub.add(keys):
                self.hub.wake()

    async def _error(self, text: str) -> None:
        with anyio.fail_after(SEND_TIMEOUT):
            await self.ws.send_text(json.dumps({"type": "error", "message": text}))


def min_interval(rate: float) -> float:
    """Seconds between two messages for ``settings.push_rate`` (default when unusable)."""
    if not math.isfinite(rate) or rate <= 0:
        return MIN_INTERVAL
    return 1.0 / min(rate, 60.0)


def _hub(ctx: ApiContext) -> QuoteHub:
    if ctx.hub is None:
        ctx.hub = QuoteHub(ctx.services)
    return ctx.hub


@router.websocket(LIVE_PATH)
async def live(websocket: WebSocket) -> None:
    ctx = get_context(websocket)
    await websocket.accept()
    if not await authenticate_websocket(websocket):
        return
    interval = min_interval(ctx.settings.push_rate)
    session = _LiveSession(websocket, ctx, _hub(ctx), interval)
    with contextlib.suppress(WebSocketDisconnect, OSError):
        await session.run()
    with contextlib.suppress(Exception):
        await websocket.close(1000)
