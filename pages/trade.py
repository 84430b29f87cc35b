"""Trade: an order ticket with preview-then-confirm, open orders with Cancel, today's fills.

A thin view over ``services.orders`` (ibkr_core/orders.py) and the shared workflow of
``ibkr_core/order_flow.py``: "Preview" validates and asks IBKR for a what-if, bound to
this connection session, account and a short validity; "Confirm and send" places exactly
that ticket once (the pending preview is consumed before the order goes out). An edit
of the ticket, a reconnect, another gateway / account or an old preview drops it.
Orders, fills and fill/reject toasts live in a fragment on a timer. Every text that is
not ours (symbols, IBKR's messages) goes through ``plain`` (never markdown).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from ibkr_core import order_flow
from ibkr_core.order_ticket import NEEDS_LIMIT, NEEDS_STOP, OrderTicket
from pages.components import (
    fmt_money,
    fmt_number,
    not_connected_hint,
    plain,
    require_services,
    source_label,
    state_banner,
)

ORDER_TYPES = {"MKT": "Market", "LMT": "Limit", "STP": "Stop", "STP LMT": "Stop limit"}  # labels
TIFS = {"DAY": "Day", "GTC": "Good till cancelled"}
TICKET_FIELDS = ("symbol", "action", "quantity", "order_type", "limit_price", "stop_price", "tif")

services = require_services()
orders = services.orders
ss = st.session_state


# -- the ticket as the widgets hold it ---------------------------------------------------------
def current_ticket() -> OrderTicket:
    order_type = ss.get("t_order_type", "MKT")
    return OrderTicket(
        symbol=(ss.get("t_symbol") or "").strip().upper(),
        action=ss.get("t_action") or "BUY",
        quantity=float(ss.get("t_quantity") or 0),
        order_type=order_type,
        limit_price=ss.get("t_limit_price") if order_type in NEEDS_LIMIT else None,
        stop_price=ss.get("t_stop_price") if order_type in NEEDS_STOP else None,
        tif=ss.get("t_tif") or "DAY",
    )


def do_preview() -> None:
    ss.pop("trade_preview", None)
    ss.pop("trade_result", None)
    ss.pop("trade_issues", None)
    ticket = current_ticket()
    try:
        ss.trade_preview = order_flow.start(orders, ticket)
    except ValueError as exc:  # OrderValidationError: its issues go next to the fields
        issues = getattr(exc, "issues", None)
        if issues:
            ss.trade_issues = {"ticket": ticket, "by_field": _by_field(issues)}
        else:
            ss.trade_result = ("error", f"Preview failed, nothing was sent: {exc}")
    except Exception as exc:  # what-if refused / timed out: nothing was sent
        ss.trade_result = ("error", f"Preview failed, nothing was sent: {exc}")


def do_confirm() -> None:
    pending = ss.pop("trade_preview", None)  # consumed first: a second click finds nothing
    if pending is None:
        return
    try:
        record = order_flow.confirm(orders, pending, current_ticket())
    except ValueError as exc:  # OrderValidationError: its issues go next to the fields
        issues = getattr(exc, "issues", [])
        ss.trade_issues = {"ticket": pending.ticket, "by_field": _by_field(issues)}
        ss.trade_result = ("error", "Order not sent: fix the ticket and preview again.")
        return
    except Exception as exc:  # StalePreviewError, trading locked, not connected...
        ss.trade_result = ("error", f"Order not sent: {exc}")
        return
    ss.trade_result = (
        "error" if record.status == "Rejected" else "success",
        f"Order {record.order_id} sent: {describe(pending.ticket)}. {_record_text(record)}",
    )


def do_cancel(record_id: str, order_id: int) -> None:
    try:
        orders.cancel_record(record_id)
    except Exception as exc:
        ss.trade_cancel_result = ("error", f"Could not cancel order {order_id}: {exc}")
    else:
        ss.trade_cancel_result = ("info", f"Cancel requested for order {order_id}.")


def _by_field(issues: list[Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for issue in issues:
        field = issue.field if issue.field in TICKET_FIELDS else ""
        out.setdefault(field, []).append(issue.message)
    return out


def _record_text(record: Any) -> str:
    if record.status == "Rejected":
        return f"Rejected: {record.message}"
    return "Follow it below under Open orders and Today's fills."


def describe(ticket: OrderTicket) -> str:
    """E.g. "BUY 5 MSFT Stop limit: stop 280.00, limit 279.50 · DAY"."""
    text = f"{ticket.action} {ticket.quantity:g} {ticket.symbol} {ORDER_TYPES[ticket.order_type]}"
    prices = []
    if ticket.order_type in NEEDS_STOP and ticket.stop_price is not None:
        prices.append(f"stop {fmt_number(ticket.stop_price)}")
    if ticket.order_type in NEEDS_LIMIT and ticket.limit_price is not None:
        prices.append(f"limit {fmt_number(ticket.limit_price)}")
    if prices:
        text += ": " + ", ".join(prices)
    return f"{text} · {ticket.tif}"


def quote_hint() -> None:
    """The symbol's current bid / ask / last, to set limit and stop prices against."""
    symbol = (ss.get("t_symbol") or "").strip().upper()
    if not enabled or not symbol:
        return
    q = services.quotes.get_quote(symbol)
    if q.ok:
        st.caption(
            f"{plain(symbol)}: bid {fmt_number(q.bid)} · ask {fmt_number(q.ask)} · "
            f"last {fmt_number(q.price)} ({source_label(q.source)})"
        )


def field_errors(field: str) -> None:
    issues = ss.get("trade_issues")
    for message in (issues or {}).get("by_field", {}).get(field, []):
        st.error(plain(message), icon=":material/error:")


# -- page ------------------------------------------------------------------------------------
st.title("Trade")
state_banner(services)

status = services.connection.status()
trading = orders.trading_status() if orders is not None and status.connected else None
if orders is None:
    st.error("Trading is unavailable: the order service did not load.")
    enabled = False
elif not status.connected:
    st.warning("**Trading is disabled: not connected to Interactive Brokers.**")
    not_connected_hint()
    enabled = False
elif not trading.allowed:
    st.error(f"**Trading is locked.** {plain(trading.reason)}", icon=":material/lock:")
    enabled = False
else:
    enabled = True
    account = plain(", ".join(status.accounts))
    if trading.is_paper:
        st.info(f"Paper account {account}: orders are simulated by IBKR.", icon=":material/info:")
    else:
        st.warning(f"LIVE account {account}: orders use real money.", icon=":material/warning:")

# A preview holds only for its ticket, connection session, account and a short time.
if "trade_preview" in ss:
    stale = order_flow.stale_reason(orders, ss.trade_preview, current_ticket())
    if stale is not None:
        ss.pop("trade_preview")
        ss.trade_result = ("info" if stale.startswith("The ticket changed") else "warning", stale)
if "trade_issues" in ss and ss.trade_issues["ticket"] != current_ticket():
    ss.pop("trade_issues")

ticket_col, preview_col = st.columns([1, 1], gap="large")
with ticket_col:
    st.subheader("Order ticket")
    field_errors("")
    st.text_input("Symbol", key="t_symbol", placeholder="e.g. AAPL", disabled=not enabled)
    field_errors("symbol")
    quote_hint()
    side, qty = st.columns(2)
    with side:
        st.segmented_control(
            "Side",
            ["BUY", "SELL"],
            format_func=str.title,
            default="BUY",
            required=True,
            key="t_action",
            disabled=not enabled,
        )
        field_errors("action")
    with qty:
        st.number_input(
            "Quantity", min_value=0, value=0, step=1, key="t_quantity", disabled=not enabled
        )
        field_errors("quantity")
    kind, tif = st.columns(2)
    with kind:
        st.selectbox(
            "Order type",
            list(ORDER_TYPES),
            format_func=ORDER_TYPES.get,
            key="t_order_type",
            disabled=not enabled,
        )
        field_errors("order_type")
    with tif:
        st.selectbox(
            "Time in force", list(TIFS), format_func=TIFS.get, key="t_tif", disabled=not enabled
        )
        field_errors("tif")
    order_type = ss.get("t_order_type", "MKT")
    if order_type in NEEDS_STOP:
        st.number_input(
            "Stop price",
            min_value=0.0,
            value=None,
            step=0.01,
            format="%.2f",
            key="t_stop_price",
            disabled=not enabled,
            help="The order triggers when the market trades at or through this price.",
        )
        field_errors("stop_price")
    if order_type in NEEDS_LIMIT:
        st.number_input(
            "Limit price",
            min_value=0.0,
            value=None,
            step=0.01,
            format="%.2f",
            key="t_limit_price",
            disabled=not enabled,
            help="Buy at this price or lower; sell at this price or higher.",
        )
        field_errors("limit_price")
    st.button("Preview", key="t_preview", on_click=do_preview, disabled=not enabled)

with preview_col:
    st.subheader("Preview")
    pending = ss.get("trade_preview")
    result = ss.get("trade_result")
    if pending is None:
        st.caption("Fill in the ticket and click **Preview**: nothing is sent until you confirm.")
    else:
        p = pending.preview
        st.markdown(f"**{plain(describe(pending.ticket))}**")
        currency = p.commission_currency or "USD"
        a, b = st.columns(2)
        a.metric(
            "Order value (est.)",
            fmt_money(p.order_value, "USD"),
            help=f"Quantity × {fmt_number(p.estimated_price)} (limit/stop price, or the quote)",
        )
        commission_range = None
        if p.min_commission is not None and p.max_commission is not None:
            low, high = fmt_money(p.min_commission, currency), fmt_money(p.max_commission, currency)
            commission_range = f"Between {low} and {high}"
        b.metric("Commission (est.)", fmt_money(p.commission, currency), help=commission_range)
        a.metric(
            "Initial margin change",
            fmt_money(p.init_margin_change, "USD", signed=True),
            help=f"Initial margin after the order: {fmt_money(p.init_margin_after, 'USD')}",
        )
        b.metric(
            "Maintenance margin change",
            fmt_money(p.maint_margin_change, "USD", signed=True),
            help=f"Maintenance margin after the order: {fmt_money(p.maint_margin_after, 'USD')}",
        )
        if p.warning:
            st.warning(plain(p.warning))
        if p.short_warning:
            st.warning(plain(p.short_warning), icon=":material/trending_down:")
        st.caption(
            f"For account {plain(p.account)} on this connection; valid for "
            f"{order_flow.PREVIEW_VALID_SECONDS:g} s, then preview again."
        )
        st.button(
            "Confirm and send",
            key="t_confirm",
            type="primary",
            on_click=do_confirm,
            disabled=not enabled,
        )
    if result is not None:
        kind_, text = result
        {"success": st.success, "error": st.error, "warning": st.warning, "info": st.info}[kind_](
            plain(text)
        )


# -- live part: open orders, fills, toasts -----------------------------------------------------
TOAST_ICONS = {
    "fill": ":material/check_circle:",
    "rejected": ":material/error:",
    "inactive": ":material/warning:",
    "error": ":material/warning:",
    "unknown": ":material/help:",
}


def toast_events(events: list[Any]) -> None:
    for event in events:
        icon = TOAST_ICONS.get(event.kind)
        if icon is not None:  # cancellations are the user's own doing: no toast
            duration = "short" if event.kind == "fill" else "long"
            st.toast(plain(event.message), icon=icon, duration=duration)


ORDER_COLUMNS = [0.8, 0.8, 0.6, 0.9, 1.2, 1.4, 1.8, 0.9]


def orders_table(records: list[Any]) -> None:
    if not records:
        st.caption("No open orders.")
        return
    titles = ["Order", "Symbol", "Side", "Filled/Qty", "Type", "Prices", "Status", ""]
    for col, title in zip(st.columns(ORDER_COLUMNS), titles, strict=True):
        if title:
            col.markdown(f"**{title}**")
    for r in records:
        row = st.columns(ORDER_COLUMNS, vertical_alignment="center")
        prices = " / ".join(
            f"{name} {fmt_number(value)}"
            for name, value in (("stop", r.stop_price), ("limit", r.limit_price))
            if value is not None
        )
        cells = (
            str(r.order_id),
            r.symbol,
            r.action.title(),
            f"{r.filled:g}/{r.quantity:g}",
            f"{ORDER_TYPES.get(r.order_type, r.order_type)} · {r.tif}",
            prices or "—",
            r.status + (f" — {r.message}" if r.message else ""),
        )
        for col, cell in zip(row, cells, strict=False):
            col.markdown(plain(cell))
        row[7].button(
            "Cancel",
            key=f"t_cancel_{r.record_id}",  # unique by construction (order ids are not)
            on_click=do_cancel,
            args=(r.record_id, r.order_id),
            disabled=not enabled or r.status == "PendingCancel",
        )


def fills_frame(fills: list[Any]) -> pd.DataFrame:
    columns = ["time", "symbol", "side", "shares", "price", "commission", "order_id"]
    return pd.DataFrame(
        [{c: getattr(f, c) for c in columns} for f in reversed(fills)],  # newest first
        columns=columns,
    )


def done_frame(records: list[Any]) -> pd.DataFrame:
    rows = [
        {
            "time": r.last_update,
            "order_id": r.order_id,
            "order": f"{r.action.title()} {r.quantity:g} {r.symbol} "
            f"{ORDER_TYPES.get(r.order_type, r.order_type)}",
            "status": r.status,
            "avg_price": r.avg_fill_price,
            "message": r.message,
        }
        for r in records
        if r.is_done
    ]
    columns = ["time", "order_id", "order", "status", "avg_price", "message"]
    return pd.DataFrame(rows, columns=columns)


@st.fragment(run_every=services.settings.refresh_interval)
def live_orders() -> None:
    if "trade_cursor" not in ss:  # first visit: no toasts for what happened before
        ss.trade_cursor = orders.latest_cursor()
    events, ss.trade_cursor = orders.events_since(ss.trade_cursor)
    toast_events(events)

    st.subheader("Open orders")
    cancel_result = ss.pop("trade_cancel_result", None)
    if cancel_result is not None:
        {"error": st.error, "info": st.info}[cancel_result[0]](plain(cancel_result[1]))
    orders_table(orders.open_orders())

    st.subheader("Today's fills")
    fills = orders.fills()
    if not fills:
        st.caption("No fills today.")
    else:
        st.dataframe(
            fills_frame(fills),
            hide_index=True,
            placeholder="—",
            column_config={
                "time": st.column_config.DatetimeColumn("Time (UTC)", format="HH:mm:ss"),
                "symbol": "Symbol",
                "side": "Side",
                "shares": st.column_config.NumberColumn("Shares", format="%g"),
                "price": st.column_config.NumberColumn("Price", format="%.2f"),
                "commission": st.column_config.NumberColumn("Commission", format="dollar"),
                "order_id": st.column_config.NumberColumn("Order", format="%d"),
            },
        )

    done = done_frame(orders.recent_orders())
    with st.expander(f"Finished orders today ({len(done)})"):
        st.dataframe(
            done,
            hide_index=True,
            placeholder="—",
            column_config={
                "time": st.column_config.DatetimeColumn("Updated (UTC)", format="HH:mm:ss"),
                "order_id": st.column_config.NumberColumn("Order", format="%d"),
                "order": "Order",
                "status": "Status",
                "avg_price": st.column_config.NumberColumn("Avg fill", format="%.2f"),
                "message": st.column_config.TextColumn("Message", width="large"),
            },
        )


if orders is not None and status.connected:
    live_orders()
