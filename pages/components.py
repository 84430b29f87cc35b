"""Shared UI pieces for every page (imported, never shown as a page itself).

Public API (stable; pages build on it)::

    require_services() -> Services        # the one st.cache_resource of the app; call it
                                          # first in every page (it enforces the entry point)
    begin_entry_run()                     # entry point only, first thing
    render_sidebar(services)              # connection panel + live status badge
    status_badge(status)                  # the coloured state badge (+ paper/LIVE)
    state_banner(services)                # one line under a page title: degraded, data
                                          # farm broken, competing session (+ what to do)
    not_connected_hint()                  # "choose the Demo preset and click Connect"
                                          # (or "reconnecting automatically" while it is)
    fmt_money, fmt_number, fmt_pct, fmt_time, fmt_age, DASH   # from ibkr_core/formatting.py
    source_label(QuoteSource.IBKR_DELAYED) -> "IBKR (delayed)"
    pnl_color(value) -> "green" | "red" | "gray"   (for st.badge / :color[...] markdown)
    plain("**AAPL**") -> "\\*\\*AAPL\\*\\*"   # any text not written by us (symbols,
                                          # hosts, IBKR / provider messages) goes through
                                          # it before st.error / warning / toast / caption
    account_picker(services, allow_all=True) -> str | None  # sidebar "Account" (2+ accounts)
    selected_account(services) -> str | None  # the picked account, never "All" (Trade)

Pages never compute business values; they ask ``ibkr_core`` and lay out the answer.
"""

from __future__ import annotations

import string
import threading
from datetime import UTC, datetime
from pathlib import Path

import streamlit as st

from ibkr_core.connection import ConnectionState, ConnectionStatus
from ibkr_core.data_state import ConnectionView, LinkState
from ibkr_core.formatting import DASH, fmt_age, fmt_money, fmt_number, fmt_pct, fmt_time
from ibkr_core.formatting import is_missing as _missing
from ibkr_core.quote import QuoteSource
from ibkr_core.services import (
    DEMO_PRESET,
    PRESETS,
    Services,
    default_preset,
    get_services,
    preset,
)

__all__ = [
    "DASH",
    "account_picker",
    "begin_entry_run",
    "choose_account",
    "fmt_age",
    "fmt_money",
    "fmt_number",
    "fmt_pct",
    "fmt_time",
    "not_connected_hint",
    "plain",
    "pnl_color",
    "render_sidebar",
    "require_services",
    "selected_account",
    "source_label",
    "state_banner",
    "status_badge",
]

STATUS_REFRESH_SECONDS = 2.0

# -- services -------------------------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def _cached_services() -> Services:
    """The process's services. No ``on_release`` close on purpose: the one-process
    server's lifespan owns them (the API serves the same IBKR session), so the app
    menu's "Clear cache" must not disconnect it; the lifespan and atexit close them."""
    return get_services()


_entry_run = threading.local()  # each script run has its own thread


def begin_entry_run() -> None:
    """(Entry point only, first thing.) This script run goes through streamlit_app.py."""
    _entry_run.active = True


def _ensure_entrypoint() -> None:
    """A page file running without the entry point would skip the password gate and the
    sidebar. The server declares ``st.navigation`` mode at startup (its lifespan), so
    that never happens there; a harness without that lifespan (``AppTest``) starts in
    Streamlit's legacy ``pages/`` folder mode. Then declare navigation mode (the public
    ``st.navigation``) and rerun through streamlit_app.py."""
    if getattr(_entry_run, "active", False):
        return
    # The same url paths as the entry point's pages, so the rerun stays on this page.
    pages = [p for p in sorted(_PAGES_DIR.glob("*.py")) if p.name not in _NOT_PAGES]
    st.navigation([st.Page(p) for p in pages], position="hidden")
    st.rerun()


_PAGES_DIR = Path(__file__).resolve().parent
_NOT_PAGES = {"components.py", "live.py", "__init__.py"}


def require_services() -> Services:
    """The process-wide services (one connection, loop thread and quote cache).

    Call it first thing in every page: it also makes sure the page runs through the
    entry point (password gate, sidebar)."""
    _ensure_entrypoint()
    try:
        return _cached_services()
    except Exception as exc:  # a broken settings file, no free port...: say it plainly
        st.error(f"The dashboard could not start its services: {plain(exc)}")
        st.stop()
        raise  # unreachable; keeps type checkers happy


# -- formatting -------------------------------------------------------------------------------

_MARKDOWN_ESCAPES = str.maketrans({c: "\\" + c for c in string.punctuation})


def plain(text: object) -> str:
    """``text`` as literal text inside Streamlit markdown (st.error, st.toast, captions...).

    Every ASCII punctuation character is backslash-escaped (CommonMark allows it for all
    of them), so nothing becomes bold, a link (``[x](http://…)``, ``WWW.EVIL.COM``,
    ``http://…``), a ``:color[…]`` / ``:material/…:`` directive, an emoji shortcode or
    LaTeX (``$``). Streamlit never renders HTML here. Newlines are kept."""
    return str(text).translate(_MARKDOWN_ESCAPES)


_SOURCE_LABELS = {
    QuoteSource.IBKR_LIVE: "IBKR (live)",
    QuoteSource.IBKR_DELAYED: "IBKR (delayed)",
    QuoteSource.IBKR_FROZEN: "IBKR (frozen)",
    QuoteSource.YAHOO: "Yahoo Finance",
    QuoteSource.ALPHA_VANTAGE: "Alpha Vantage",
    QuoteSource.NONE: "no source",
}


def source_label(source: QuoteSource | str | None) -> str:
    try:
        return _SOURCE_LABELS[QuoteSource(source)]
    except (ValueError, KeyError):
        return str(source or DASH)


def pnl_color(value: float | None) -> str:
    if _missing(value) or value == 0:
        return "gray"
    return "green" if value > 0 else "red"


# -- status badge ---------------------------------------------------------------------------


_BADGE_STYLE = {  # level -> (color, icon)
    "ok": ("green", ":material/check_circle:"),
    "info": ("blue", ":material/sync:"),
    "warning": ("orange", ":material/warning:"),
    "error": ("red", ":material/error:"),
    "idle": ("gray", ":material/link_off:"),
}
_STATE_ICONS = {
    LinkState.DEGRADED: ":material/cloud_off:",
    LinkState.RECONNECTING: ":material/sync_problem:",
    LinkState.CONNECTING: ":material/sync:",
}
_CLOSED_ICON = ":material/schedule:"  # connected, market closed (info)


def _state_badge(status: ConnectionStatus) -> tuple[str, str, str]:
    """(label, color, icon) for the connection state, from ibkr_core's state model."""
    view = status.view
    color, icon = _BADGE_STYLE.get(view.level, _BADGE_STYLE["idle"])
    if view.market_closed and view.level == "info":
        icon = _CLOSED_ICON
    return view.label, color, _STATE_ICONS.get(view.state, icon)


MARKET_DATA_NOTES = {
    2: "Market data: live while the market is open; its last values (frozen) after the close.",
    3: "Market data: live where subscribed, delayed otherwise.",
    4: "Market data: live where subscribed, delayed otherwise; frozen after the close.",
}


def status_badge(status: ConnectionStatus, show_error: bool = True) -> None:
    """The state badge, the paper/LIVE badge and, when connected, the session details.
    ``show_error=False`` hides the last failure (a newer message replaces it)."""
    label, color, icon = _state_badge(status)
    badges = [f":{color}-badge[{icon} {label}]"]
    session = status.connected or status.state == ConnectionState.RECONNECTING
    if session and status.is_paper is True:
        badges.append(":blue-badge[:material/description: PAPER]")
    elif session and status.is_paper is False:
        badges.append(":red-badge[:material/error: LIVE]")
    st.markdown(" ".join(badges))
    if status.connected:
        if status.is_paper is False:
            st.markdown(":red[**LIVE account: orders use real money.**]")
        accounts = ", ".join(status.accounts) or DASH
        kind = f" ({status.port_kind})" if status.port_kind else ""
        st.markdown(
            f"**Account:** {plain(accounts)}  \n"
            f"**Host:** {plain(status.host)}:{status.port}{plain(kind)}  \n"
            f"**Client id:** {status.client_id}  \n"
            f"**Server version:** {status.server_version or DASH}  \n"
            f"**Connected since:** {fmt_time(status.connected_since)}"
        )
        _notices(status.view)
        if status.market_data_type in MARKET_DATA_NOTES:
            st.caption(MARKET_DATA_NOTES[status.market_data_type])
    elif status.state == ConnectionState.RECONNECTING:
        retry = ""
        if status.next_retry_at is not None:
            wait = (status.next_retry_at - datetime.now(UTC)).total_seconds()
            retry = f" Next try in {max(0.0, wait):.0f} s."
        st.warning(
            f"{plain(status.last_error or 'Connection lost')}. Reconnecting to "
            f"{plain(status.host)}:{status.port} automatically.{retry}"
        )
    elif status.state == ConnectionState.CONNECTING:
        st.caption(f"Connecting to {plain(status.host)}:{status.port}…")
    elif status.last_error and show_error:
        st.error(plain(status.last_error))
    for warning in status.warnings:
        st.warning(plain(warning))


_SHOW = {"error": st.error, "warning": st.warning, "info": st.info}


def _notices(view: ConnectionView) -> None:
    for notice in view.notices:
        _SHOW.get(notice.level, st.warning)(plain(notice.text))


def state_banner(services: Services) -> None:
    """One line under a page's title when the data is not what it seems: TWS lost IBKR
    (1100), a data farm is broken, a competing session holds the data. Nothing while
    everything is live, or when not connected (the page's own hint says so)."""
    view = services.connection.status().view
    if not view.notices or view.state in (LinkState.RECONNECTING, LinkState.DISCONNECTED):
        return  # not_connected_hint() / the sidebar say it
    levels = {n.level for n in view.notices}
    worst = next(level for level in ("error", "warning", "info") if level in levels)
    text = " · ".join(plain(n.text) for n in view.notices)
    label, _, icon = _state_badge(services.connection.status())
    _SHOW[worst](f"**{plain(label)}:** {text}", icon=icon)


@st.fragment(run_every=STATUS_REFRESH_SECONDS)
def _live_status(services: Services) -> None:
    """Re-reads the connection every few seconds; a change of state reruns the whole
    page so everything on it (buttons, portfolio, quotes) follows the connection."""
    status = services.connection.status()
    seen = st.session_state.get("_conn_state_seen")
    key = (status.state, status.connectivity, status.view.key)
    if seen is not None and seen != key:
        st.rerun()
    # An input error of the latest try replaces the failure of the try before it.
    status_badge(status, show_error=not st.session_state.get("conn_input_error"))


def not_connected_hint() -> None:
    """What to do without a connection (or that it is coming back by itself)."""
    status = _cached_services().connection.status()
    if status.state == ConnectionState.RECONNECTING:
        st.warning(
            f"The connection to {plain(status.host)}:{status.port} was lost: reconnecting "
            "automatically. Account data comes back with it.",
            icon=":material/sync_problem:",
        )
        return
    if status.state == ConnectionState.CONNECTING:
        st.info(f"Connecting to {plain(status.host)}:{status.port}…", icon=":material/sync:")
        return
    st.info(
        f"Not connected to Interactive Brokers. Choose **{DEMO_PRESET}** in the sidebar and "
        "click **Connect** to try the dashboard, or start TWS / IB Gateway with the API "
        "enabled and choose its preset.",
        icon=":material/power_off:",
    )


# -- connection panel -----------------------------------------------------------------------

_LABELS = [p.label for p in PRESETS]


CONNECTION_FIELDS = ("conn_preset", "conn_host", "conn_port", "conn_client_id")


def _init_state(services: Services) -> None:
    """A new session shows the shared connection's current (or last) target."""
    ss = st.session_state
    if "conn_preset" in ss:
        # Re-set every run: a widget whose value came from session state is sent with it
        # only in the run that set it. A widget drawn afresh in a later run (the sidebar
        # above it changed, e.g. the live badge) would show its default (client id 0)
        # and send that back as if typed.
        for key in CONNECTION_FIELDS:
            if key in ss:
                ss[key] = ss[key]
        return
    settings = services.settings
    status = services.connection.status()
    requested = status.requested_client_id
    ss["conn_client_id"] = int(settings.client_id if requested is None else requested)
    if services.demo.running and status.port == services.demo.port:
        ss["conn_preset"] = DEMO_PRESET
        ss["conn_host"], ss["conn_port"] = "127.0.0.1", str(services.demo.port)
        return
    if status.connected_since is None and status.state == ConnectionState.DISCONNECTED:
        # Never connected in this process: the configured TWS if one listens, else Demo.
        start = default_preset(settings)
        if start.demo:
            ss["conn_preset"] = DEMO_PRESET
            ss["conn_host"], ss["conn_port"] = "127.0.0.1", "auto"
            return
    port = status.port or settings.port
    matching = [p.label for p in PRESETS if not p.demo and p.port == port]
    ss["conn_preset"] = matching[0] if matching else DEMO_PRESET
    ss["conn_host"] = status.host or settings.host
    ss["conn_port"] = str(port)


def _on_preset_change() -> None:
    ss = st.session_state
    services = _cached_services()
    chosen = preset(ss["conn_preset"])
    if chosen.demo:
        ss["conn_host"] = "127.0.0.1"
        ss["conn_port"] = str(services.demo.port or "auto")
    else:
        if ss.get("conn_port") == "auto" or ss.get("conn_port") == str(services.demo.port):
            ss["conn_host"] = services.settings.host
        ss["conn_port"] = str(chosen.port)
    ss.pop("conn_input_error", None)


def _request(action: str) -> None:
    st.session_state["_conn_action"] = action


def _parse_port(raw: str) -> int | None:
    try:
        port = int(str(raw).strip())
    except ValueError:
        return None
    return port if 0 < port < 65536 else None


def _run_pending_action(services: Services) -> None:
    """Connect / disconnect requested by a button (runs before the inputs are drawn, so
    it may update them, e.g. with the demo gateway's port)."""
    ss = st.session_state
    action = ss.pop("_conn_action", None)
    if action is None:
        return
    ss.pop("conn_input_error", None)
    if action == "disconnect":
        services.disconnect()
        return
    chosen = preset(ss["conn_preset"])
    typed = ss.get("conn_client_id")  # 0 is TWS's master client: a real choice, not "unset"
    client_id = int(services.settings.client_id if typed is None else typed)
    if chosen.demo:
        with st.spinner("Starting the demo gateway and connecting…"):
            status = services.connect_demo(client_id)
    else:
        host = str(ss.get("conn_host") or "").strip()
        port = _parse_port(ss.get("conn_port", ""))
        if not host or port is None:
            ss["conn_input_error"] = (
                "Enter a host (e.g. 127.0.0.1) and a port between 1 and 65535 "
                "(TWS paper 7497, TWS live 7496, IB Gateway paper 4002, live 4001)."
            )
            return
        with st.spinner(f"Connecting to {host}:{port}…"):
            status = services.connect(host, port, client_id)
    if (
        not status.connected
        and status.last_error
        and status.last_error != (services.connection.status().last_error)
    ):
        ss["conn_input_error"] = status.last_error  # e.g. the demo could not start


def render_sidebar(services: Services) -> None:
    """The connection panel: live status badge, presets, host/port/client id, buttons."""
    _init_state(services)
    ss = st.session_state
    with st.sidebar:
        st.subheader("Interactive Brokers")
        _run_pending_action(services)
        status = services.connection.status()
        ss["_conn_state_seen"] = (status.state, status.connectivity, status.view.key)
        from pages.live import live_status  # (pages.live imports this module)

        if live_status(services, status):
            status_badge(status)  # pushed: a change of state reruns the page
        else:
            _live_status(services)

        chosen = preset(ss["conn_preset"])
        st.selectbox("Connection preset", _LABELS, key="conn_preset", on_change=_on_preset_change)
        if chosen.live:
            st.markdown(":red[**Live trading port: real money.**]")
        if chosen.demo:  # not typed by the user: always the demo's own address
            ss["conn_host"], ss["conn_port"] = "127.0.0.1", str(services.demo.port or "auto")
        c1, c2 = st.columns([3, 2])
        c1.text_input("Host", key="conn_host", disabled=chosen.demo)
        c2.text_input(
            "Port",
            key="conn_port",
            disabled=chosen.demo,
            help="The demo gateway picks a free local port." if chosen.demo else None,
        )
        st.number_input(
            "Client id",
            min_value=0,
            max_value=999_999,
            step=1,
            key="conn_client_id",
            help="Each API session to one TWS needs its own client id.",
        )
        b1, b2 = st.columns(2)
        b1.button(
            "Connect",
            key="conn_connect",
            type="primary",
            on_click=_request,
            args=("connect",),
            width="stretch",
        )
        b2.button(
            "Disconnect",
            key="conn_disconnect",
            on_click=_request,
            args=("disconnect",),
            disabled=status.state == ConnectionState.DISCONNECTED,
            width="stretch",
        )
        if ss.get("conn_input_error"):
            st.error(plain(ss["conn_input_error"]))


# -- account picker -------------------------------------------------------------------------

_ACCOUNT_CHOICE = "selected_account"  # survives pages that do not draw the picker
ALL_ACCOUNTS = "All"


def _keep_account_choice() -> None:
    st.session_state[_ACCOUNT_CHOICE] = st.session_state["account_picker"]


def _all_converts(portfolio) -> bool:
    try:
        return bool(portfolio.view(ALL_ACCOUNTS).all_convertible)
    except Exception:  # a slow TWS: no "All" this run; the page says why it waits
        return False


def account_picker(services: Services, allow_all: bool = True) -> str | None:
    """The sidebar's **Account** selectbox when the login manages more than one account
    (then the chosen account, or "All" where every account converts to one currency);
    the only account otherwise; None when not connected."""
    portfolio = services.portfolio
    accounts = tuple(portfolio.accounts())
    if not accounts:
        return None
    if len(accounts) == 1:
        return accounts[0]
    choices = list(accounts)
    if allow_all and _all_converts(portfolio):
        choices.append(ALL_ACCOUNTS)
    ss = st.session_state
    current = ss.get(_ACCOUNT_CHOICE)
    if current not in choices:
        current = accounts[0]
        ss[_ACCOUNT_CHOICE] = current
    ss["account_picker"] = current
    st.sidebar.selectbox(
        "Account",
        choices,
        key="account_picker",
        on_change=_keep_account_choice,
        help="This login manages several accounts; each shows in its own base currency.",
    )
    return current


def choose_account(account: str) -> None:
    """Pick ``account`` in the sidebar's picker (e.g. a Trade ticket started from one of
    that account's positions); call before the picker is drawn (a callback)."""
    st.session_state[_ACCOUNT_CHOICE] = account


def selected_account(services: Services) -> str | None:
    """The account picked in the sidebar for pages that act on one account (Trade):
    the only account, the picked one, or None (not connected, or "All" is picked)."""
    accounts = tuple(services.portfolio.accounts())
    if len(accounts) == 1:
        return accounts[0]
    chosen = st.session_state.get(_ACCOUNT_CHOICE)
    return chosen if chosen in accounts else None
