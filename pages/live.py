"""The live component's mounts (Streamlit side): the sidebar's indicator + status badge
and the Market data quotes board, both fed by ``WS /api/live`` (``ibkr_core/web/live.py``).

    live_status(services, status) -> bool    # sidebar; True while the stream is live
    live_quotes(services, symbols) -> bool   # True: the board shows the quotes (pushed)
    live_portfolio(services, account, part) -> bool  # Portfolio: cards / positions / cash
    live_orders(services, part, can_cancel) -> str | None  # Trade: "open" / "fills";
                                             # the record id whose Cancel was clicked

While the stream is live the page runs no timers: prices patch the board in place, and
a change of connection state reruns the page once. When it is not (``AppTest``, a proxy
that blocks WebSockets, a server restart), the callers fall back to their fragment
refresh by themselves; the component keeps retrying and switches back when it can.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

from ibkr_core.access import password_required
from ibkr_core.connection import ConnectionStatus
from ibkr_core.figures import KIND_TITLES
from ibkr_core.quote import QuoteSource
from ibkr_core.services import Services
from ibkr_core.web.live import LIVE_PATH, state_key
from ibkr_core.web.tokens import session_tokens
from pages.components import source_label

__all__ = ["is_live", "live_orders", "live_portfolio", "live_quotes", "live_status"]

_HERE = Path(__file__).resolve().parent
_JS = (_HERE / "live.js").read_text()
_CSS = (_HERE / "live.css").read_text()
_COLUMNS = ("Symbol", "Last", "Bid", "Ask", "Change %", "Volume", "High", "Low", "Source", "Age",
            "Status")  # fmt: skip
_HTML = (
    '<div class="ibkr-live"><span class="live-pill">○ Connecting…</span>'
    "<table><thead><tr>"
    + "".join(f'<th class="t-{c.split()[0].lower()}">{c}</th>' for c in _COLUMNS)
    + '</tr></thead><tbody></tbody></table><div class="live-caption"></div></div>'
)
_STATUS_KEY = "live_status"
_TOKEN_KEY = "_live_token"
_TOKEN_REFRESH = 60.0  # s before expiry a page run hands the component a fresh token


def _renderer():
    # Registered on each mount: a no-op for the same definition, and a fresh registry
    # (AppTest, a restarted runtime) always knows it.
    return st.components.v2.component("ibkr_live", html=_HTML, css=_CSS, js=_JS)


def _token(services: Services) -> str | None:
    """A signed-in session's short-lived stream token (None: no password, none needed)."""
    if not password_required(services.settings):
        return None
    tokens = session_tokens()
    token, expiry = st.session_state.get(_TOKEN_KEY, (None, 0.0))
    if token is None or expiry - time.time() < _TOKEN_REFRESH:
        token, expiry = tokens.issue(), time.time() + tokens.ttl
        st.session_state[_TOKEN_KEY] = (token, expiry)
    return token


def _noop() -> None:
    """State callbacks: the rerun they cause is what the page needs."""


def is_live() -> bool:
    state = st.session_state.get(_STATUS_KEY)
    return bool(state is not None and state.get("live"))


def live_status(services: Services, status: ConnectionStatus) -> bool:
    """The sidebar's live / paused indicator; True while the stream is live."""
    live = is_live()
    _renderer()(
        key=_STATUS_KEY,
        data={
            "mode": "status",
            "path": LIVE_PATH,
            "token": _token(services),
            "state": state_key(status),
            "live": live,
        },
        default={"live": False},
        on_live_change=_noop,
        on_status_change=_noop,
        height="content",
    )
    return live


def live_quotes(services: Services, symbols: list[str]) -> bool:
    """The quotes board, pushed; False (nothing drawn) while the stream is not live."""
    if not is_live() or not symbols:
        return False
    labels = {str(s): source_label(s) for s in QuoteSource}
    _renderer()(
        key="live_quotes",
        data={
            "mode": "board",
            "path": LIVE_PATH,
            "token": _token(services),
            "symbols": list(symbols),
            "labels": labels,
            "stale_after": float(services.settings.stale_after),
            "digits": 2,
        },
    )
    st.caption(
        f"Prices are pushed as IBKR sends them; rows older than "
        f"{services.settings.stale_after:g} s are marked stale."
    )
    return True


def _mount(
    services: Services,
    mode: str,
    part: str,
    on_cancel_change: Callable[[], None] | None = None,
    **data: Any,
) -> Any:
    """One pushed Portfolio / Trade view (``mode``, ``part``), keyed by both."""
    callbacks = {"on_cancel_change": on_cancel_change} if on_cancel_change else {}
    return _renderer()(
        key=f"live_{mode}_{part}",
        data={"mode": mode, "part": part, "path": LIVE_PATH, "token": _token(services), **data},
        **callbacks,
    )


def live_portfolio(
    services: Services, account: str | None, part: str, classes: list[str] | None = None
) -> bool:
    """The account's metric cards (``part`` "cards"), its positions ("positions": the
    securities, futures and FX tables, only ``classes`` when given) or its cash by
    currency ("cash"), pushed (figures patched in place); False (nothing drawn) while
    the stream is not live."""
    if not is_live():
        return False
    _mount(services, "portfolio", part, account=account, classes=classes, titles=KIND_TITLES)
    return True


def live_orders(services: Services, part: str, can_cancel: bool) -> str | bool | None:
    """Trade's open orders (``part`` "open", with Cancel buttons), today's fills
    ("fills") or finished orders ("finished"), pushed. False while the stream is not
    live; else the record id of a Cancel clicked this run (None: none)."""
    if not is_live():
        return False
    result = _mount(services, "orders", part, can_cancel=can_cancel, on_cancel_change=_noop)
    cancel = getattr(result, "cancel", None)
    return cancel if isinstance(cancel, str) else None
