"""``WS /api/market-data/stream``: quotes pushed to the client as they change.

Protocol (JSON text frames)::

    client -> {"action": "auth", "token": "..."}      (first, when a token is required
                                                       and no Authorization header)
    client -> {"action": "subscribe",   "symbols": ["AAPL", "MSFT"]}
    client -> {"action": "unsubscribe", "symbols": ["MSFT"]}
    client -> {"action": "ping"}                      (-> {"type": "pong", ...})
    client -> {"action": "close"}                     (server closes with 1000)

    server -> {"type": "welcome", "heartbeat_interval": 15.0, "max_symbols": 100, ...}
    server -> {"type": "subscribed" | "unsubscribed", "symbols": [...], "subscriptions": [...]}
    server -> {"type": "quote", "symbol": "AAPL", "source": "ibkr-live", "last": 228.5,
               "bid": ..., "ask": ..., ..., "provider_time": ..., "fetched_at": ...,
               "sent_at": ..., "error": null}
    server -> {"type": "heartbeat", "time": ..., "ibkr_connected": true, ...}
    server -> {"type": "error", "message": "..."}     (bad message, binary frame: the
                                                       stream goes on)

A quote message goes out once right after subscribing, then each time any of the
quote's values (prices, volume, source, error) changes; never twice for the same
values. After the "unsubscribed" answer no quote for those symbols follows.

Server side, one ``QuoteHub`` per app reads snapshots from the quote manager (IBKR
when connected, else the fallbacks) in a worker thread: the symbols whose IBKR ticker
changed when the core reports new ticks (``services.events.quotes``, fed by ib_async's
``pendingTickersEvent``, so an IBKR tick reaches the client within milliseconds), and
every subscribed symbol at least every ``settings.refresh_interval`` seconds and after a
subscription (the fallback providers' own cache decides how fresh their answers are).
Each connection keeps only the latest unsent quote per symbol, so a slow client gets
fresh values rather than a growing backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from ibkr_core.api.auth import authenticate_websocket
from ibkr_core.api.deps import ApiContext, get_context, run_blocking
from ibkr_core.api.models import SYMBOL_PATTERN, QuoteResponse
from ibkr_core.connection import normalize_symbol

if TYPE_CHECKING:
    from ibkr_core.events import QuoteChanged, Subscription
    from ibkr_core.quote import Quote
    from ibkr_core.services import Services

__all__ = ["STREAM_PATH", "QuoteHub", "router"]

log = logging.getLogger(__name__)

STREAM_PATH = "/api/market-data/stream"
MAX_SYMBOLS = 100
MAX_MESSAGE_BYTES = 16_384
SEND_TIMEOUT = 10.0
NORMAL_CLOSURE = 1000
_SYMBOL_RE = re.compile(SYMBOL_PATTERN)
_VALUE_FIELDS = ("source", "last", "bid", "ask", "volume", "high", "low", "previous_close", "error")

router = APIRouter(tags=["market-data"])


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def quote_message(quote: Quote, stale_after: float) -> dict[str, Any]:
    body = QuoteResponse.from_core(quote, stale_after).model_dump(mode="json")
    return {"type": "quote", **body, "error": quote.error}


def fingerprint(quote: Quote) -> tuple[Any, ...]:
    """What counts as 'changed': the values, not the time we fetched them."""
    return tuple(getattr(quote, name) for name in _VALUE_FIELDS)


@dataclass(eq=False)
class Subscriber:
    """One WebSocket's subscriptions and its latest unsent quote per symbol."""

    max_symbols: int = MAX_SYMBOLS
    symbols: dict[str, str] = field(default_factory=dict)  # key -> as the client spelled it
    last: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    pending: dict[str, Quote] = field(default_factory=dict)
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, quotes: dict[str, Quote]) -> None:
        for key in self.symbols:
            quote = quotes.get(key)
            if quote is None:
                continue
            mark = fingerprint(quote)
            if self.last.get(key) != mark:
                self.last[key] = mark
                self.pending[key] = quote
        if self.pending:
            self.ready.set()

    def take(self) -> list[tuple[str, Quote]]:
        """The unsent quotes as (symbol as the client spelled it, quote)."""
        items = [(self.symbols.get(k, k), q) for k, q in self.pending.items()]
        self.pending = {}
        self.ready.clear()
        return items

    def add(self, keys: dict[str, str]) -> list[str]:
        added = []
        for key, spelled in keys.items():
            if key not in self.symbols:
                self.symbols[key] = spelled
                self.last.pop(key, None)
                added.append(key)
        return added

    def remove(self, keys: list[str]) -> list[str]:
        removed = []
        for key in keys:
            spelled = self.symbols.pop(key, None)
            if spelled is not None:
                removed.append(spelled)
            self.last.pop(key, None)
            self.pending.pop(key, None)
        return removed


class QuoteHub:
    """Reads the quotes every subscriber wants and hands each one what changed for it.

    Runs only while at least one subscriber is attached (so it always lives on the
    event loop serving them)."""

    def __init__(self, services: Services, *, interval: float | None = None) -> None:
        self._services = services
        self.interval = float(interval or services.settings.refresh_interval or 1.0)
        self._subscribers: set[Subscriber] = set()
        self._task: asyncio.Task | None = None
        self._wake: asyncio.Event | None = None
        self._aio_loop: asyncio.AbstractEventLoop | None = None
        self._wake_pending = threading.Event()
        self._changed_lock = threading.Lock()
        self._changed: set[str] = set()  # symbols whose ticker changed since the last read
        self._full_read = True  # next read covers every subscribed symbol
        self.reads = 0  # snapshot reads done (tests, benchmark)
        self._quote_sub: Subscription | None = None

    # -- subscribers -----------------------------------------------------------------
    def attach(self, subscriber: Subscriber) -> None:
        self._subscribers.add(subscriber)
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._aio_loop = asyncio.get_running_loop()
            self._task = self._aio_loop.create_task(self._run(), name="quote-hub")

    def detach(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)
        if not self._subscribers:
            self.wake()  # let the pump notice and stop

    def wake(self, full: bool = True) -> None:
        """Read now (from the event loop): every subscribed symbol, or (``full=False``)
        the ones whose ticker changed."""
        if full:
            self._full_read = True
        if self._wake is not None:
            self._wake.set()

    async def stop(self) -> None:
        self._subscribers.clear()
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # -- the pump --------------------------------------------------------------------
    def _on_quotes(self, event: QuoteChanged) -> None:
        """(IBKR loop thread: the core's quote-changed event.) Note whose ticks changed,
        wake the pump once per read."""
        with self._changed_lock:
            self._changed |= event.symbols
        loop = self._aio_loop
        if loop is None or self._wake_pending.is_set():
            return
        self._wake_pending.set()
        with contextlib.suppress(RuntimeError):  # the app's loop is closing
            loop.call_soon_threadsafe(self.wake, False)

    def _hook_ticks(self, on: bool) -> None:
        events = self._services.events
        if on:
            self._quote_sub = events.quotes.subscribe(self._on_quotes)
        elif self._quote_sub is not None:
            self._quote_sub.close()
            self._quote_sub = None

    async def _run(self) -> None:
        assert self._wake is not None
        wake = self._wake
        self._hook_ticks(True)
        timeout = float(self._services.settings.provider_timeout) + 2.0
        try:
            while self._subscribers:
                try:
                    await asyncio.wait_for(wake.wait(), self.interval)
                except TimeoutError:
                    self._full_read = True
                wake.clear()
                self._wake_pending.clear()
                with self._changed_lock:
                    changed, self._changed = self._changed, set()
                full, self._full_read = self._full_read, False
                # one read per symbol, asked as a client spelled it ("BRK.B"), kept by key
                wanted: dict[str, str] = {}
                for subscriber in self._subscribers:
                    for key, spelled in subscriber.symbols.items():
                        if full or key in changed:
                            wanted.setdefault(key, spelled)
                if not wanted:
                    continue
                try:
                    quotes = await run_blocking(
                        self._services.quotes.get_quotes, list(wanted.values()), timeout=timeout
                    )
                except Exception:
                    log.exception("quote stream: reading quotes failed")
                    await asyncio.sleep(min(1.0, self.interval))
                    continue
                self.reads += 1
                by_key = {key: quotes[spelled] for key, spelled in wanted.items()}
                for subscriber in list(self._subscribers):
                    subscriber.offer(by_key)
        finally:
            self._hook_ticks(False)


def _hub(ctx: ApiContext) -> QuoteHub:
    if ctx.hub is None:
        ctx.hub = QuoteHub(ctx.services)
    return ctx.hub


class _Session:
    """One WebSocket connection: reads client messages, writes quotes and heartbeats."""

    def __init__(self, websocket: WebSocket, ctx: ApiContext, hub: QuoteHub) -> None:
        self.ws = websocket
        self.ctx = ctx
        self.hub = hub
        self.sub = Subscriber()
        self.stale_after = float(ctx.settings.stale_after)
        self._send_lock = asyncio.Lock()
        self.closing = False

    async def send(self, message: dict[str, Any]) -> None:
        """One frame; a client that reads nothing for SEND_TIMEOUT s is dropped."""
        text = json.dumps(message, separators=(",", ":"))
        async with self._send_lock:
            with anyio.fail_after(SEND_TIMEOUT):
                await self.ws.send_text(text)

    async def run(self) -> None:
        await self.send(
            {
                "type": "welcome",
                "heartbeat_interval": self.ctx.heartbeat_interval,
                "max_symbols": self.sub.max_symbols,
                "ibkr_connected": self.ctx.ibkr_ready(),
                "time": _now_iso(),
            }
        )
        self.hub.attach(self.sub)
        try:
            async with anyio.create_task_group() as tg:
                for loop in (self._receive_loop, self._send_loop, self._heartbeat_loop):
                    tg.start_soon(self._until_first_ends, loop, tg.cancel_scope)
        finally:
            self.hub.detach(self.sub)

    @staticmethod
    async def _until_first_ends(
        loop: Callable[[], Awaitable[None]], scope: anyio.CancelScope
    ) -> None:
        """Run one of the session's loops; when any ends (client gone, "close"), all do."""
        try:
            await loop()
        except (WebSocketDisconnect, OSError, RuntimeError, TimeoutError) as exc:
            log.debug("quote stream: %s ended: %r", loop.__name__, exc)
        finally:
            scope.cancel()

    async def _send_loop(self) -> None:
        while True:
            await self.sub.ready.wait()
            sent_at = _now_iso()
            for symbol, quote in self.sub.take():
                message = quote_message(quote, self.stale_after)
                message["symbol"] = symbol
                message["sent_at"] = sent_at
                await self.send(message)

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.ctx.heartbeat_interval)
            await self.send(
                {
                    "type": "heartbeat",
                    "time": _now_iso(),
                    "ibkr_connected": self.ctx.ibkr_ready(),
                    "subscriptions": len(self.sub.symbols),
                }
            )

    async def _receive_loop(self) -> None:
        while not self.closing:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", NORMAL_CLOSURE))
            text = message.get("text")
            if text is None:
                await self._error("binary frames are not supported: send JSON text")
                continue
            await self._handle(text)

    async def _error(self, message: str) -> None:
        await self.send({"type": "error", "message": message})

    async def _handle(self, text: str) -> None:
        if len(text) > MAX_MESSAGE_BYTES:
            await self._error(f"message too long (max {MAX_MESSAGE_BYTES} bytes)")
            return
        try:
            message = json.loads(text)
        except ValueError:
            await self._error('not JSON: send {"action": "subscribe", "symbols": [...]}')
            return
        if not isinstance(message, dict):
            await self._error("expected a JSON object with an 'action'")
            return
        action = message.get("action")
        if action == "ping":
            await self.send({"type": "pong", "time": _now_iso()})
        elif action == "close":
            self.closing = True
        elif action in ("subscribe", "unsubscribe"):
            await self._change(action, message.get("symbols"))
        else:
            await self._error(
                f"unknown action {action!r}: use subscribe, unsubscribe, ping or close"
            )

    async def _change(self, action: str, raw: Any) -> None:
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list) or not raw:
            await self._error("'symbols' must be a non-empty list of symbols")
            return
        good: dict[str, str] = {}
        bad: list[str] = []
        for item in raw:
            if isinstance(item, str) and _SYMBOL_RE.match(item.strip() or "-"):
                good.setdefault(normalize_symbol(item), item.strip().upper())
            else:
                bad.append(str(item)[:40])
        if bad:
            await self._error(f"invalid symbols ignored: {bad[:10]}")
            if not good:
                return
        if action == "unsubscribe":
            removed = self.sub.remove(list(good))
            await self.send(
                {
                    "type": "unsubscribed",
                    "symbols": removed,
                    "subscriptions": sorted(self.sub.symbols.values()),
                }
            )
            return
        room = self.sub.max_symbols - len(self.sub.symbols)
        fresh = {k: v for k, v in good.items() if k not in self.sub.symbols}
        if len(fresh) > room:
            await self._error(
                f"too many symbols: at most {self.sub.max_symbols} per connection; "
                f"{len(fresh) - room} not subscribed"
            )
            fresh = dict(list(fresh.items())[: max(room, 0)])
        added = self.sub.add(fresh)
        await self.send(
            {
                "type": "subscribed",
                "symbols": [self.sub.symbols[k] for k in added],
                "subscriptions": sorted(self.sub.symbols.values()),
            }
        )
        if added:
            self.hub.wake()


@router.websocket(STREAM_PATH)
async def stream(websocket: WebSocket) -> None:
    ctx = get_context(websocket)
    await websocket.accept()
    if not await authenticate_websocket(websocket):
        return
    session = _Session(websocket, ctx, _hub(ctx))
    try:
        await session.run()
    except (WebSocketDisconnect, OSError):
        pass
    finally:
        if (
            websocket.client_state == WebSocketState.CONNECTED
            and websocket.application_state == WebSocketState.CONNECTED
        ):
            with contextlib.suppress(Exception):
                await websocket.close(NORMAL_CLOSURE)
