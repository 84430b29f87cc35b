"""``WS /api/live``: the dashboard's push stream (what the live component subscribes to).

Unlike the API's per-quote stream, one message carries everything that changed since
the last one, and a client gets at most ``settings.push_rate`` messages a second (4 by
default): a burst of ticks is coalesced into the latest values per symbol.

Protocol (JSON text frames)::

    client -> {"action": "auth", "token": "..."}        (first, when a token is required)
    client -> {"action": "subscribe", "symbols": ["AAPL", "MSFT"],
               "portfolio": {"account": "DU123" | null},  (optional: the Portfolio page)
               "orders": true}                            (optional: the Trade page)
    server -> {"type": "update", "time": ..., "quotes": {"AAPL": {...}, ...},
               "status": {...}, "portfolio": {...}, "orders": {...}}
                                                          (each part only when it changed)

Each subscribe replaces the previous one (a topic left out is dropped).

A quote is ``QuoteResponse`` (the API's quote) plus ``error``; ``status`` is the
connection's state with the badge's label and colour. ``portfolio`` (see
``live_topics.PortfolioTopic``): ``account``/``base``/``connected`` when they change,
``cards`` (the six metric cards: label, value, delta), ``positions`` {key: cells} of the
rows that changed, ``removed`` keys, ``order`` (the rows' keys when the set changed).
``orders`` (``live_topics.OrdersTopic``): ``open`` {key: cells} changed open orders,
``closed`` keys that left the open list (filled, cancelled, ...), ``open_order``,
``fills`` {exec id: cells} new or changed fills, ``fill_order`` (newest first), and
``events`` (fills, rejections: kind + message). Every figure is text from
``ibkr_core/figures.py``: the page's own wording, each amount in its own currency.

Fed by the core's events (``ibkr_core/events.py``), not by polling: the quote hub wakes
on quote changes, the status on connection changes, the portfolio part on portfolio
changes (positions, P&L, account values), the orders part on order-book changes; each
delivered to this loop with ``call_soon_threadsafe`` and read at most ``push_rate``
times a second.
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
from ibkr_core.api.deps import ApiContext, get_context, run_blocking
from ibkr_core.api.stream import MAX_SYMBOLS, SEND_TIMEOUT, QuoteHub, Subscriber, quote_message
from ibkr_core.connection import ConnectionState, ConnectionStatus, normalize_symbol
from ibkr_core.data_state import quote_view
from ibkr_core.web.live_topics import OrdersTopic, PortfolioTopic

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
        self.portfolio: PortfolioTopic | None = None
        self.orders: OrdersTopic | None = None
        self.portfolio_dirty = False
        self.orders_dirty = False
        self.subscriptions: list[Any] = []

    # -- core events, delivered on this loop (ibkr_core/events.py) ------------------
    def _on_status(self, status: ConnectionStatus) -> None:
        self.status = status_message(status)
        self.sub.ready.set()

    def _on_portfolio(self, event: Any) -> None:
        topic = self.portfolio
        if topic is None:
            return
        if event.accounts and topic.account and topic.account not in event.accounts:
            return
        self.portfolio_dirty = True
        self.sub.ready.set()

    def _on_orders(self, _event: Any) -> None:
        if self.orders is not None:
            self.orders_dirty = True
            self.sub.ready.set()

    def _subscribe_events(self) -> None:
        events = self.ctx.services.events
        self.subscriptions = [
            events.connection.subscribe(self._on_status, loop=self.loop),
            events.portfolio.subscribe(self._on_portfolio, loop=self.loop),
            events.orders.subscribe(self._on_orders, loop=self.loop),
        ]

    # -- the topics' parts ----------------------------------------------------------------
    async def _portfolio_part(self) -> dict[str, Any] | None:
        topic = self.portfolio
        if topic is None or not self.portfolio_dirty:
            return None
        self.portfolio_dirty = False
        services = self.ctx.services
        timeout = float(services.settings.request_timeout) + 2.0
        try:
            view = await run_blocking(services.portfolio.view, topic.account, timeout=timeout)
        except (ValueError, TimeoutError) as exc:  # an account gone, a slow TWS: next event
            log.info("live stream: portfolio not read: %r", exc)
            return None
        return topic.diff(view) if self.portfolio is topic else None

    def _orders_part(self) -> dict[str, Any] | None:
        topic = self.orders
        if topic is None or not self.orders_dirty:
            return None
        self.orders_dirty = False
        book = self.ctx.services.orders
        events, cursor = book.events_since(topic.cursor)
        return topic.diff(book.open_orders(), book.fills(), events, cursor, book.recent_orders())

    def _set_topics(self, body: dict[str, Any]) -> None:
        wanted = body.get("portfolio")
        if isinstance(wanted, dict):
            account = wanted.get("account")
            account = account if isinstance(account, str) and account else None
            if self.portfolio is None or self.portfolio.account != account:
                self.portfolio = PortfolioTopic(account)
                self.portfolio_dirty = True
        else:
            self.portfolio = None
        if body.get("orders") is True:
            if self.orders is None:
                self.orders = OrdersTopic(self.ctx.services.orders.latest_cursor())
                self.orders_dirty = True
        else:
            self.orders = None
        if self.portfolio_dirty or self.orders_dirty:
            self.sub.ready.set()

    # -- loops --------------------------------------------------------------------------
    async def run(self) -> None:
        self.hub.attach(self.sub)
        self._subscribe_events()
        self.sub.ready.set()  # the first message: the current status
        try:
            async with anyio.create_task_group() as tg:
                for loop in (self._receive_loop, self._send_loop):
                    tg.start_soon(self._until_first_ends, loop, tg.cancel_scope)
        finally:
            for subscription in self.subscriptions:
                subscription.close()
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
            portfolio = await self._portfolio_part()
            if portfolio:
                message["portfolio"] = portfolio
            orders = self._orders_part()
            if orders:
                message["orders"] = orders
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
            self._set_topics(body)

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
