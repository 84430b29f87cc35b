"""The Portfolio and Trade pages' figures as the trader reads them (text), built once for
the page's own layout and for the push stream, so both read the same.

    metric_cards(summary, rows) -> list[Card]     # the six account cards
    count_text(summary, rows) -> "13 positions"   # or "11 securities · 1 future · 1 FX"
    unit_price_text(value, currency, sec_type)    # a price per unit: $5.205, bonds 99.125
    position_cells(row, base) -> dict[str, str]   # one position's pushed cells
    order_cells(record) / fill_cells(fill)        # an open order / a fill, as text

Money keeps its currency: a position's own money in the instrument's currency, totals in
the account's base currency (converted with the account's own IBKR rates upstream, in
``ibkr_core/holdings.py``); an unknown figure reads "—", never 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING

from ibkr_core.formatting import DASH, fmt_money, fmt_number, fmt_pct, is_missing, unit_digits
from ibkr_core.instruments import PRICED_IN_PERCENT_OF_PAR
from ibkr_core.order_ticket import NEEDS_LIMIT, NEEDS_STOP, ORDER_TYPE_LABELS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ibkr_core.contracts import Instrument
    from ibkr_core.holdings import PortfolioSummary, PositionRow
    from ibkr_core.instruments import PRICED_IN_PERCENT_OF_PAR
    from ibkr_core.money import CashLine
    from ibkr_core.order_book import FillRecord, OrderRecord
from ibkr_core.order_ticket import OrderTicket

__all__ = [
    "KINDS",
    "KIND_TITLES",
    "Card",
    "cancel_note",
    "cash_cells",
    "cash_total_text",
    "count_text",
    "fill_cells",
    "filled_text",
    "finished_cells",
    "metric_cards",
    "order_cells",
    "order_type_text",
    "position_cells",
    "position_key",
    "signed_delta",
    "ticket_text",
    "unit_price_text",
    "value_factor_text",
]

KINDS = {"FUT": "futures", "CASH": "fx"}  # sec type -> the Portfolio table it sits in
# each table's title and what sets it apart (securities: none)
KIND_TITLES = {
    "held": ("", ""),
    "futures": ("Futures", "only their P&L counts in the account; exposure is notional"),
    "fx": ("FX positions", "the foreign cash below, seen as positions: counted once"),
}


@dataclass(frozen=True)
class Card:
    """One metric card: label, value, the line under it (None: none), its colour rule
    ("normal": green up / red down, "off": grey)."""

    label: str
    value: str
    delta: str | None = None
    delta_color: str = "normal"


def signed_delta(value: float | None, currency: str, suffix: str = "") -> str | None:
    if value is None:
        return None
    if value == 0:
        return f"{fmt_money(0.0, currency)}{suffix}"
    return f"{fmt_money(value, currency, signed=True)}{suffix}"


def count_text(s: PortfolioSummary, rows: Sequence[PositionRow]) -> str:
    """ "13 positions", or "11 securities · 1 future · 1 FX" when some are not value."""
    kinds = [KINDS.get(r.sec_type, "held") for r in rows]
    if all(k == "held" for k in kinds):
        return f"{s.positions_count} position{'s' if s.positions_count != 1 else ''}"
    parts = [(kinds.count("held"), "security", "securities")]
    parts += [(kinds.count("futures"), "future", "futures"), (kinds.count("fx"), "FX", "FX")]
    return " · ".join(f"{n} {one if n == 1 else many}" for n, one, many in parts if n)


def metric_cards(s: PortfolioSummary, rows: Sequence[PositionRow] = ()) -> list[Card]:
    """The account's six cards, in the base currency."""
    cur = s.currency
    live = s.connected
    return [
        Card(
            "Net liquidation",
            fmt_money(s.net_liquidation, cur),
            signed_delta(s.daily_pnl, cur, " today") if live else None,
        ),
        Card("Cash", fmt_money(s.total_cash, cur)),
        Card(
            "Positions value",
            fmt_money(s.positions_value, cur),
            count_text(s, rows) if live else None,
            "off",
        ),
        Card(
            "Daily P&L",
            fmt_money(s.daily_pnl, cur, signed=True),
            fmt_pct(s.daily_pnl_pct) if live and s.daily_pnl_pct is not None else None,
        ),
        Card(
            "Unrealized P&L",
            fmt_money(s.unrealized_pnl, cur, signed=True),
            f"{fmt_pct(s.securities_pnl_pct)} on securities' cost"
            if live and s.securities_pnl_pct is not None
            else None,
        ),
        Card(
            "Realized P&L",
            fmt_money(s.realized_pnl, cur, signed=True),
            signed_delta(s.realized_pnl, cur, " today") if live and s.realized_pnl else None,
        ),
    ]


def unit_price_text(value: float | None, currency: str, sec_type: str) -> str:
    """A price per unit: bonds in % of par (3 decimals), FX rates (5), else money with
    IBKR's precision (at least cents)."""
    if is_missing(value):
        return DASH
    if sec_type in PRICED_IN_PERCENT_OF_PAR:
        return fmt_number(value, 3)
    if sec_type == "CASH":
        return fmt_number(value, 5)
    return fmt_money(value, currency, digits=unit_digits(value))


def position_key(row: PositionRow) -> str:
    return f"{row.account}:{row.con_id}"


def position_cells(row: PositionRow, base: str) -> dict[str, str | float | None]:
    """A position's pushed figures: text per cell, plus ``price`` (the number behind
    the price cell, for the up/down flash)."""
    cur = row.currency
    kind = KINDS.get(row.sec_type, "held")
    value = row.notional if kind == "futures" else row.market_value
    value_base = row.notional_base if kind == "futures" else row.market_value_base
    return {
        "key": position_key(row),
        "kind": kind,
        "asset_class": row.asset_class,
        "instrument": row.description or row.symbol,
        "account": row.account,
        "currency": cur,
        "quantity": fmt_number(row.quantity, 8).rstrip("0").rstrip("."),
        "multiplier": "" if is_missing(row.multiplier) else f"{row.multiplier:g}",
        "avg_price": unit_price_text(row.avg_price, cur, row.sec_type),
        "market_price": unit_price_text(row.market_price, cur, row.sec_type),
        "market_value": fmt_money(value, cur),
        "market_value_base": fmt_money(value_base, base),
        "weight": DASH if is_missing(row.weight_pct) else f"{row.weight_pct:.1f}%",
        "unrealized_pnl": fmt_money(row.unrealized_pnl, cur, signed=True),
        "unrealized_pnl_pct": fmt_pct(row.unrealized_pnl_pct),
        "daily_pnl": fmt_money(row.daily_pnl, cur, signed=True),
        "price": None if is_missing(row.market_price) else row.market_price,
        "pnl_sign": _sign(row.unrealized_pnl),
        "daily_sign": _sign(row.daily_pnl),
    }


def cash_cells(line: CashLine, base: str) -> dict[str, str]:
    """One currency's cash as the Portfolio shows it: the balance in that currency, IBKR's
    rate and the value in base (unknown: "—")."""
    return {
        "key": line.currency,
        "currency": line.currency,
        "balance": fmt_money(line.balance, line.currency),
        "rate": "1" if line.currency == base else fmt_number(line.rate, digits=6),
        "in_base": fmt_money(line.base_value, base),
    }


def cash_total_text(s: PortfolioSummary) -> str:
    return f"Total cash (IBKR TotalCashValue): {fmt_money(s.total_cash, s.currency)}"


def _sign(value: float | None) -> int:
    if is_missing(value) or value == 0:
        return 0
    return 1 if value > 0 else -1


def order_type_text(order_type: str) -> str:
    return ORDER_TYPE_LABELS.get(order_type, order_type)


def filled_text(r: OrderRecord) -> str:
    """ "3 / 10 (7 left)": what filled of the order and what is still working."""
    text = f"{r.filled:g} / {r.quantity:g}"
    return text + (f" ({r.remaining:g} left)" if r.filled and r.remaining else "")


def order_cells(r: OrderRecord, child: bool = False) -> dict[str, str]:
    """An open order's row, as the Trade page shows it."""
    prices = " / ".join(
        f"{name} {fmt_number(value)}"
        for name, value in (("stop", r.stop_price), ("limit", r.limit_price))
        if value is not None
    )
    if prices and r.currency:
        prices += f" {r.currency}"
    name = r.description or r.symbol
    return {
        "key": r.record_id,
        "order": str(r.order_id) if r.order_id > 0 else f"perm {r.perm_id}",
        "instrument": ("↳ " if child else "") + name + ("" if r.own else f" · {r.origin}"),
        "side": r.action.title(),
        "filled": filled_text(r),
        "type": f"{order_type_text(r.order_type)} · {r.tif}",
        "prices": prices or DASH,
        "status": r.status + (f" — {r.message}" if r.message else ""),
        "cancel_note": cancel_note(r),
    }


def finished_cells(r: OrderRecord) -> dict[str, str]:
    """A finished order's row (filled, cancelled, rejected...), as the Trade page shows it."""
    when = r.last_update.astimezone(UTC).strftime("%H:%M:%S") if r.last_update else DASH
    return {
        "key": r.record_id,
        "time": when,
        "order": str(r.order_id) if r.order_id > 0 else f"perm {r.perm_id}",
        "what": f"{r.action.title()} {r.quantity:g} {r.description or r.symbol} "
        f"{order_type_text(r.order_type)}",
        "status": r.status,
        "filled": f"{r.filled:g}",
        "remaining": f"{r.remaining:g}",
        "avg_price": fmt_money(r.avg_fill_price, r.currency) if r.avg_fill_price else DASH,
        "message": r.message or "",
    }


def fill_cells(f: FillRecord) -> dict[str, str]:
    """A fill's row: its price in the instrument's currency, the commission in IBKR's."""
    commission = (
        fmt_money(f.commission, f.commission_currency or f.currency)
        if f.commission is not None
        else DASH
    )
    return {
        "key": f.exec_id,
        "time": f.time.astimezone(UTC).strftime("%H:%M:%S") if f.time else DASH,
        "instrument": f.description or f.symbol,
        "side": f.side,
        "quantity": f"{f.shares:g}",
        "price": fmt_money(f.price, f.currency) if f.currency else fmt_number(f.price),
        "commission": commission,
        "order": str(f.order_id),
    }


def value_factor_text(sec_type: str, factor: float, currency: str) -> str:
    """What one unit of price is worth per unit of quantity, as the preview says it."""
    if sec_type in PRICED_IN_PERCENT_OF_PAR:
        return f"priced in % of par: {factor:g} {currency} per point"
    return f"multiplier {factor:g}"


def cancel_note(r: OrderRecord) -> str:
    """Why Cancel is not offered ("" when it is): only the client that placed an order
    (or TWS) can cancel it."""
    return "" if r.own else f"Placed by {r.origin}: only that client or TWS can cancel it."


def ticket_text(ticket: OrderTicket, instrument: Instrument | None = None) -> str:
    """E.g. "BUY 5 MSFT Stop limit: stop 280.00, limit 279.50 · DAY",
    "BUY 2 AAPL 15 JAN 27 230 Call Market · DAY"."""
    name = instrument.description if instrument is not None else ticket.symbol
    text = f"{ticket.action} {ticket.quantity:g} {name} {ORDER_TYPE_LABELS[ticket.order_type]}"
    prices = []
    if ticket.order_type in NEEDS_STOP and ticket.stop_price is not None:
        prices.append(f"stop {fmt_number(ticket.stop_price)}")
    if ticket.order_type in NEEDS_LIMIT and ticket.limit_price is not None:
        prices.append(f"limit {fmt_number(ticket.limit_price)}")
    if prices:
        text += ": " + ", ".join(prices)
    return f"{text} · {ticket.tif}"
