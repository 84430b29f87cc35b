"""Trade: an order ticket with preview-then-confirm, open orders with Cancel, today's fills.

The ticket names an instrument, not just a symbol: a symbol IBKR lists more than once
("SAP" on IBIS in EUR and the NYSE ADR; "ES" stock, future and options) is picked from a
select of plain descriptions, and an order can start from a held position ("Close" /
"Reduce", with that position's own contract). With several accounts the ticket has an
Account select; the preview names the account and the instrument (type, exchange,
currency, conId, multiplier) and states the order value in the instrument's currency and
in the account's base currency.

A thin view over ``services.orders`` (ibkr_core/orders.py) and the shared workflow of
``ibkr_core/order_flow.py``: "Preview" validates and asks IBKR for a what-if, bound to
this connection session, account and a short validity; "Confirm and send" places exactly
that ticket once (the pending preview is consumed before the order goes out). An edit
of the ticket, a reconnect, another gateway / account or an old preview drops it.
Open orders and fills are pushed while the live stream is up (``pages/live.py``);
else they, and the fill/reject toasts, live in a fragment on a timer. Every text that is
not ours (symbols, IBKR's messages) goes through ``plain`` (never markdown).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from ibkr_core import order_flow
from ibkr_core.figures import (
    cancel_note,
    fill_cells,
    order_cells,
    order_type_text,
    ticket_text,
    value_factor_text,
)
from ibkr_core.order_book import group_brackets
from ibkr_core.order_ticket import (
    NEEDS_LIMIT,
    NEEDS_STOP,
    ORDER_TYPE_LABELS,
    TIF_LABELS,
    OrderTicket,
)
from pages import live as push
from pages.components import (
    account_picker,
    choose_account,
    fmt_money,
    fmt_number,
    not_connected_hint,
    plain,
    require_services,
    selected_account,
    source_label,
    state_banner,
)

TICKET_FIELDS = (
    "symbol",
    "con_id",
    "account",
    "action",
    "quantity",
    "order_type",
    "limit_price",
    "stop_price",
    "tif",
)

services = require_services()
orders = services.orders
ss = st.session_state


# -- the ticket as the widgets hold it ---------------------------------------------------------
def ticket_account() -> str | None:
    """The account the ticket is for: the sidebar picker's choice when the login manages
    several accounts (None: the only account)."""
    accounts = services.connection.status().accounts
    if len(accounts) < 2:
        return None
    chosen = selected_account(services)
    return chosen if chosen in accounts else None


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
        account=ticket_account(),
        con_id=ss.get("t_con_id") or None,
    )


# -- instruments and positions -----------------------------------------------------------------
def instrument_choices(symbol: str) -> tuple[list[Any], str]:
    """Every instrument IBKR lists for ``symbol`` and why there are none ("" when
    found); kept per connection session and symbol (another gateway lists others)."""
    cache = ss.setdefault("t_matches", {})
    key = (status.session_id, symbol)
    if key not in cache:
        try:
            cache[key] = (orders.instruments(symbol), "")
        except Exception as exc:  # unknown symbol, not connected, timeout
            return [], str(exc)
    return cache[key]


def start_from_position(mode: str) -> None:
    """ "Close" / "Reduce": the ticket takes the held position's own contract (conId),
    account and the side that reduces it."""
    pos = next((p for p in held_positions() if p.key == ss.get("t_position")), None)
    if pos is None:
        return
    qty = abs(pos.quantity)
    if not float(qty).is_integer():
        ss.trade_result = (
            "warning",
            f"{pos.description} is held in a fraction ({qty:g}): this ticket trades whole "
            "shares or contracts only. Close it in TWS.",
        )
        return
    ss.t_symbol = pos.symbol
    ss.t_con_id = pos.con_id
    ss.t_action = pos.closing_action
    ss.t_quantity = int(qty if mode == "close" else max(1, qty // 2))
    if len(status.accounts) > 1:
        choose_account(pos.account)  # the sidebar's Account picker follows the position
    ss.pop("trade_preview", None)


def held_instrument(con_id: int, symbol: str) -> Any:
    """The instrument of a conId the ticket holds (from a position), if it is ``symbol``'s."""
    try:
        inst = orders.instrument(con_id)
    except Exception:
        return None
    return inst if symbol in (inst.symbol.upper(), inst.local_symbol.upper()) else None


def held_positions() -> list[Any]:
    """The login's positions; only the chosen account's once one is chosen."""
    try:
        return orders.positions(ticket_account()) if enabled else []
    except Exception:  # not connected any more, timeout: no positions to start from
        return []


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
        f"Order {record.order_id} sent: {ticket_text(pending.ticket, pending.preview.instrument)}"
        f"{_account_text(pending.preview)}. {_record_text(record)}",
    )


def do_cancel(record_id: str, order_id: int) -> None:
    try:
        record = orders.cancel_record(record_id)
    except Exception as exc:
        ss.trade_cancel_result = ("error", f"Could not cancel order {order_id}: {exc}")
    else:
        what = f"{record.description or record.symbol} (order {order_id})"
        if record.status in ("Cancelled", "ApiCancelled"):
            filled = f", {record.filled:g} of {record.quantity:g} filled" if record.filled else ""
            ss.trade_cancel_result = ("info", f"Cancelled {what}{filled}.")
        elif record.is_done:
            ss.trade_cancel_result = ("info", f"{what} was already {record.status_text}.")
        else:
            ss.trade_cancel_result = ("info", f"Cancel requested for {what}.")


def do_global_cancel() -> None:
    ss.pop("t_global_confirm", None)
    try:
        orders.global_cancel()
    except Exception as exc:
        ss.trade_cancel_result = ("error", f"Global cancel failed: {exc}")
    else:
        ss.trade_cancel_result = (
            "info",
            "Global cancel sent: TWS cancels every open order of this login, whoever placed it.",
        )


def do_refresh() -> None:
    try:
        orders.refresh()
    except Exception as exc:
        ss.trade_cancel_result = ("error", f"Could not ask TWS for its orders: {exc}")


def _by_field(issues: list[Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for issue in issues:
        field = issue.field if issue.field in TICKET_FIELDS else ""
        out.setdefault(field, []).append(issue.message)
    return out


def _account_text(preview: Any) -> str:
    return f" for account {preview.account}" if preview.account else ""


def _record_text(record: Any) -> str:
    if record.status == "Rejected":
        return f"Rejected: {record.message}"
    return "Follow it below under Open orders and Today's fills."


def quote_hint() -> None:
    """The symbol's current bid / ask / last, to set limit and stop prices against."""
    symbol = (ss.get("t_symbol") or "").strip().upper()
    if not enabled or not symbol or chosen is None:
        return
    if chosen.sec_type != "STK" or chosen.currency != "USD":
        return  # the quote service reads US stocks by symbol: not this instrument's price
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
trading = orders.trading_status() if status.connected else None
if not status.connected:
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

# The instrument: the symbol's IBKR matches; a conId that is not among them is dropped.
typed = (ss.get("t_symbol") or "").strip().upper()
choices, lookup_error = instrument_choices(typed) if enabled and typed else ([], "")
by_con_id = {i.con_id: i for i in choices}
if ss.get("t_con_id") and ss.t_con_id not in by_con_id:
    held = held_instrument(ss.t_con_id, typed)  # e.g. a bond whose symbol lists it not
    if held is not None:
        choices = [*choices, held]
        by_con_id[held.con_id] = held
    else:
        ss.t_con_id = None
if len(choices) == 1:
    ss.t_con_id = choices[0].con_id
chosen = by_con_id.get(ss.get("t_con_id"))
several_accounts = len(status.accounts) > 1 if status.connected else False
if several_accounts and enabled:
    account_picker(services, allow_all=False)  # the sidebar's Account select

# A preview holds only for its ticket, connection session, account and a short time.
if "trade_preview" in ss:
    stale = order_flow.stale_reason(orders, ss.trade_preview, current_ticket())
    if stale is not None:
        ss.pop("trade_preview")
        ss.trade_result = ("info" if stale.startswith("The ticket changed") else "warning", stale)
if "trade_issues" in ss and ss.trade_issues["ticket"] != current_ticket():
    ss.pop("trade_issues")

ss.setdefault("t_action", "BUY")  # set here, not as a default: Close/Reduce set it too
ticket_col, preview_col = st.columns([1, 1], gap="large")
with ticket_col:
    st.subheader("Order ticket")
    field_errors("")
    if several_accounts:
        chosen_account = ticket_account()
        st.markdown(
            plain(f"Account: {chosen_account}")
            + " — choose another in the sidebar's **Account** select."
            if chosen_account
            else "Choose the account to trade in with the sidebar's **Account** select."
        )
        field_errors("account")
    positions = held_positions()
    if positions:
        by_key = {p.key: p for p in positions}
        if ss.get("t_position") not in by_key:
            ss.t_position = None
        st.selectbox(
            "Start from a position",
            list(by_key),
            index=None,
            format_func=lambda k: by_key[k].label,
            placeholder="Choose a holding to close or reduce",
            key="t_position",
            disabled=not enabled,
        )
        close_col, reduce_col = st.columns(2)
        no_position = not enabled or ss.get("t_position") is None
        close_col.button(
            "Close",
            key="t_close",
            on_click=start_from_position,
            args=("close",),
            disabled=no_position,
            help="A ticket for the whole position, on its own contract (you still preview).",
        )
        reduce_col.button(
            "Reduce",
            key="t_reduce",
            on_click=start_from_position,
            args=("reduce",),
            disabled=no_position,
            help="A ticket for half the position, on its own contract: set the quantity.",
        )
    st.text_input("Symbol", key="t_symbol", placeholder="e.g. AAPL", disabled=not enabled)
    field_errors("symbol")
    if len(choices) > 1:
        st.selectbox(
            "Instrument",
            list(by_con_id),
            index=None,
            format_func=lambda c: by_con_id[c].label,
            placeholder=f"{typed} matches {len(choices)} instruments: choose one",
            key="t_con_id",
            disabled=not enabled,
        )
    elif chosen is not None:
        st.caption(plain(f"Instrument: {chosen.label}"))
    elif lookup_error and not ss.get("trade_issues"):
        st.caption(plain(lookup_error))
    field_errors("con_id")
    quote_hint()
    side, qty = st.columns(2)
    with side:
        st.segmented_control(
            "Side",
            ["BUY", "SELL"],
            format_func=str.title,
            required=True,
            key="t_action",
            disabled=not enabled,
        )
        field_errors("action")
    with qty:
        st.number_input(
            "Quantity",
            min_value=0,
            value=0,
            step=1,
            key="t_quantity",
            disabled=not enabled,
            help="Shares, or contracts for options and futures.",
        )
        field_errors("quantity")
        if chosen is not None and chosen.multiplier != 1:
            st.caption(plain(f"In contracts of {chosen.multiplier:g} × {chosen.symbol}"))
    kind, tif = st.columns(2)
    with kind:
        st.selectbox(
            "Order type",
            list(ORDER_TYPE_LABELS),
            format_func=ORDER_TYPE_LABELS.get,
            key="t_order_type",
            disabled=not enabled,
        )
        field_errors("order_type")
    with tif:
        st.selectbox(
            "Time in force",
            list(TIF_LABELS),
            format_func=TIF_LABELS.get,
            key="t_tif",
            disabled=not enabled,
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
        inst = p.instrument
        st.markdown(f"**{plain(ticket_text(pending.ticket, inst))}**")
        if p.account:
            st.markdown(plain(f"Account {p.account}"))
        if inst is not None:
            per = value_factor_text(inst.sec_type, p.value_factor, p.currency)
            st.caption(plain(f"{inst.label} · conId {inst.con_id} · {per}"))
        currency = p.commission_currency or p.currency
        base = p.base_currency
        a, b = st.columns(2)
        times = f"Quantity × {fmt_number(p.estimated_price)} (limit/stop price, or the quote)"
        if inst is not None and p.value_factor != 1:
            per = value_factor_text(inst.sec_type, p.value_factor, p.currency)
            times += f" × {per}"
        a.metric("Order value (est.)", fmt_money(p.order_value, p.currency), help=times)
        commission_range = None
        if p.min_commission is not None and p.max_commission is not None:
            low, high = fmt_money(p.min_commission, currency), fmt_money(p.max_commission, currency)
            commission_range = f"Between {low} and {high}"
        b.metric("Commission (est.)", fmt_money(p.commission, currency), help=commission_range)
        if p.currency and base and p.currency != base:
            st.caption(
                plain(
                    f"Order value in the account's base currency: "
                    f"{fmt_money(p.order_value_base, base)} (at IBKR's {p.currency}→{base} "
                    f"rate for this account); limit per order {fmt_money(p.max_order_value, base)}."
                )
            )
        elif p.max_order_value is not None:
            st.caption(plain(f"Limit per order: {fmt_money(p.max_order_value, base)}."))
        a.metric(
            "Initial margin change",
            fmt_money(p.init_margin_change, base, signed=True),
            help=f"Initial margin after the order: {fmt_money(p.init_margin_after, base)}",
        )
        b.metric(
            "Maintenance margin change",
            fmt_money(p.maint_margin_change, base, signed=True),
            help=f"Maintenance margin after the order: {fmt_money(p.maint_margin_after, base)}",
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


ORDER_COLUMNS = [0.7, 1.6, 0.5, 1.0, 1.0, 1.2, 1.6, 0.9]
ORDER_FIELDS = ("order", "instrument", "side", "filled", "type", "prices", "status")


def orders_table(records: list[Any]) -> None:
    if not records:
        st.caption("No open orders.")
        return
    titles = ["Order", "Instrument", "Side", "Filled / qty", "Type", "Prices", "Status", ""]
    for col, title in zip(st.columns(ORDER_COLUMNS), titles, strict=True):
        if title:
            col.markdown(f"**{title}**")
    for r, child in group_brackets(records):
        row = st.columns(ORDER_COLUMNS, vertical_alignment="center")
        text = order_cells(r, child)
        cells = [text[c] for c in ORDER_FIELDS]
        for col, cell in zip(row, cells, strict=False):
            col.markdown(plain(cell))
        row[7].button(
            "Cancel",
            key=f"t_cancel_{r.record_id}",  # unique by construction (order ids are not)
            on_click=do_cancel,
            args=(r.record_id, r.order_id),
            disabled=not enabled or r.status == "PendingCancel",
            help=cancel_note(r) or None,
        )


def fills_frame(fills: list[Any]) -> pd.DataFrame:
    columns = ["time", "symbol", "side", "shares", "price", "commission", "order_id"]
    rows = [
        {
            "time": f.time,
            "symbol": f.description or f.symbol,
            "side": f.side,
            "shares": f.shares,
            "price": fill_cells(f)["price"],
            "commission": fill_cells(f)["commission"] if f.commission is not None else None,
            "order_id": f.order_id,
        }
        for f in reversed(fills)  # newest first
    ]
    return pd.DataFrame(rows, columns=columns)


def done_frame(records: list[Any]) -> pd.DataFrame:
    rows = [
        {
            "time": r.last_update,
            "order_id": r.order_id,
            "order": f"{r.action.title()} {r.quantity:g} {r.description or r.symbol} "
            f"{order_type_text(r.order_type)}",
            "status": r.status,
            "filled": r.filled,
            "remaining": r.remaining,
            "avg_price": fmt_money(r.avg_fill_price, r.currency) if r.avg_fill_price else None,
            "message": r.message,
        }
        for r, _child in group_brackets(records)
        if r.is_done
    ]
    columns = ["time", "order_id", "order", "status", "filled", "remaining", "avg_price", "message"]
    return pd.DataFrame(rows, columns=columns)


def global_cancel_controls() -> None:
    """TWS's Global Cancel, behind a confirm: it cancels every open order of the login."""
    if not ss.get("t_global_confirm"):
        st.button(
            "Global cancel…",
            key="t_global_cancel",
            disabled=not enabled,
            on_click=lambda: ss.update(t_global_confirm=True),
            help="TWS's Global Cancel: every open order of this login, also those entered in "
            "TWS or by other API clients.",
        )
        return
    st.warning(
        "Global cancel cancels **every** open order of this login: yours, those entered in "
        "TWS and those of other API clients. Orders already filled stay filled."
    )
    yes, no = st.columns(2)
    yes.button(
        "Yes, cancel every open order",
        key="t_global_yes",
        type="primary",
        on_click=do_global_cancel,
        disabled=not enabled,
    )
    no.button("Keep my orders", key="t_global_no", on_click=lambda: ss.pop("t_global_confirm"))


def cancel_pushed(record_id: str | bool | None) -> None:
    """A Cancel clicked in the pushed open orders (the component names the record)."""
    record = orders.order_by_record(record_id) if isinstance(record_id, str) else None
    if record is not None:
        do_cancel(record.record_id, record.order_id)


def orders_body(pushed: bool = False) -> None:
    """Open orders, fills, toasts; ``pushed``: the open orders and fills come from the
    live stream (rows appear and leave in place), the rest is drawn by this run."""
    if "trade_cursor" not in ss:  # first visit: no toasts for what happened before
        ss.trade_cursor = orders.latest_cursor()
    events, ss.trade_cursor = orders.events_since(ss.trade_cursor)
    toast_events(events)

    st.subheader("Open orders")
    if pushed:
        cancel_pushed(push.live_orders(services, "open", can_cancel=enabled))
    cancel_result = ss.pop("trade_cancel_result", None)
    if cancel_result is not None:
        {"error": st.error, "info": st.info}[cancel_result[0]](plain(cancel_result[1]))
    if not pushed:
        orders_table(orders.open_orders())
    refresh_col, global_col = st.columns(2)
    refresh_col.button(
        "Show orders from TWS and other clients",
        key="t_refresh_orders",
        on_click=do_refresh,
        disabled=not enabled,
        help="Asks TWS for every open order of this login (reqAllOpenOrders).",
    )
    with global_col:
        global_cancel_controls()

    st.subheader("Today's fills")
    fills = orders.fills()
    if pushed:
        push.live_orders(services, "fills", can_cancel=False)
    elif not fills:
        st.caption("No fills today.")
    else:
        st.dataframe(
            fills_frame(fills),
            hide_index=True,
            placeholder="—",
            column_config={
                "time": st.column_config.DatetimeColumn("Time (UTC)", format="HH:mm:ss"),
                "side": "Side",
                "shares": st.column_config.NumberColumn("Quantity", format="%g"),
                "symbol": "Instrument",
                "price": st.column_config.TextColumn("Price"),
                "commission": st.column_config.TextColumn("Commission"),
                "order_id": st.column_config.NumberColumn("Order", format="%d"),
            },
        )

    if pushed:  # rows arrive in place; the count would go stale in the label
        with st.expander("Finished orders today"):
            push.live_orders(services, "finished", can_cancel=False)
        return
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
                "filled": st.column_config.NumberColumn("Filled", format="%g"),
                "remaining": st.column_config.NumberColumn("Remaining", format="%g"),
                "avg_price": st.column_config.TextColumn("Avg fill"),
                "message": st.column_config.TextColumn("Message", width="large"),
            },
        )


live_orders = st.fragment(run_every=services.settings.refresh_interval)(orders_body)

if status.connected:
    if push.is_live():  # no timer: the stream patches open orders and fills in place
        orders_body(pushed=True)
    else:
        live_orders()
