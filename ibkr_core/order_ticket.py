"""Ticket rules: what an order ticket is and the checks that need no IBKR.

``ticket_issues(ticket)`` gives every problem a trader can fix in the ticket itself
(missing or absurd fields), keyed by field; ``OrderService`` adds the checks that ask
IBKR (symbol, tick size, order value against the quote). Pure functions, no sockets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ibkr_core.connection_errors import IBKRError
from ibkr_core.quote import num

__all__ = [
    "ACTIONS",
    "MAX_PRICE",
    "NEEDS_LIMIT",
    "NEEDS_STOP",
    "ORDER_TYPES",
    "ORDER_TYPE_LABELS",
    "ORDER_TYPE_NAMES",
    "TIFS",
    "TIF_LABELS",
    "OrderTicket",
    "OrderValidationError",
    "ValidationIssue",
    "fmt_price",
    "off_tick",
    "short_warning",
    "ticket_issues",
]

ORDER_TYPES = ("MKT", "LMT", "STP", "STP LMT")
ORDER_TYPE_NAMES = {"MKT": "market", "LMT": "limit", "STP": "stop", "STP LMT": "stop-limit"}
# what a trader reads (the Trade page, the pushed order lists)
ORDER_TYPE_LABELS = {"MKT": "Market", "LMT": "Limit", "STP": "Stop", "STP LMT": "Stop limit"}
TIF_LABELS = {"DAY": "Day", "GTC": "Good till cancelled"}
ACTIONS = ("BUY", "SELL")
TIFS = ("DAY", "GTC")
NEEDS_LIMIT = ("LMT", "STP LMT")
NEEDS_STOP = ("STP", "STP LMT")

MAX_PRICE = 1_000_000.0  # above any US stock (BRK A trades near 700,000)


@dataclass(frozen=True)
class OrderTicket:
    symbol: str
    action: str  # "BUY" | "SELL"
    quantity: float
    order_type: str = "MKT"  # "MKT" | "LMT" | "STP" | "STP LMT"
    limit_price: float | None = None
    stop_price: float | None = None
    tif: str = "DAY"  # "DAY" | "GTC"
    account: str | None = None  # needed only when the login manages several accounts
    con_id: int | None = None  # IBKR's contract id: the instrument when the symbol is ambiguous

    def normalized(self) -> OrderTicket:
        return replace(
            self,
            symbol=(self.symbol or "").strip().upper(),
            action=(self.action or "").strip().upper(),
            order_type=" ".join((self.order_type or "").upper().split()),
            tif=(self.tif or "").strip().upper(),
            account=(self.account or "").strip() or None,
            con_id=int(self.con_id) if self.con_id else None,
        )


@dataclass(frozen=True)
class ValidationIssue:
    field: str  # the OrderTicket field the message belongs next to
    message: str


class OrderValidationError(IBKRError, ValueError):
    def __init__(self, issues: list[ValidationIssue]) -> None:
        super().__init__("; ".join(f"{i.field}: {i.message}" for i in issues))
        self.issues = issues


def ticket_issues(ticket: OrderTicket) -> tuple[list[ValidationIssue], dict[str, float]]:
    """The problems of a normalised ticket that need no IBKR, and its valid prices
    (``{"limit_price": ..., "stop_price": ...}`` for the ones its order type uses)."""
    t = ticket
    issues: list[ValidationIssue] = []
    if not t.symbol:
        issues.append(ValidationIssue("symbol", "Enter a symbol."))
    if t.action not in ACTIONS:
        issues.append(ValidationIssue("action", "Choose Buy or Sell."))
    if t.order_type not in ORDER_TYPES:
        issues.append(
            ValidationIssue(
                "order_type",
                "Choose an order type: market (MKT), limit (LMT), stop (STP) or "
                "stop-limit (STP LMT).",
            )
        )
    if t.tif not in TIFS:
        issues.append(ValidationIssue("tif", "Time in force must be DAY or GTC."))
    qty = num(t.quantity)
    if qty is None or qty <= 0:
        issues.append(ValidationIssue("quantity", "Quantity must be greater than 0."))
    elif not float(qty).is_integer():
        issues.append(
            ValidationIssue(
                "quantity",
                f"Orders are in whole shares or contracts: {qty:g} is not a whole number.",
            )
        )
    kind = ORDER_TYPE_NAMES.get(t.order_type, "this")
    prices: dict[str, float] = {}
    for fld, needed, label in (
        ("limit_price", t.order_type in NEEDS_LIMIT, "limit price"),
        ("stop_price", t.order_type in NEEDS_STOP, "stop price"),
    ):
        if not needed:
            continue
        raw = getattr(t, fld)
        value = num(raw)
        if raw is None or raw == "":
            issues.append(ValidationIssue(fld, f"A {kind} order needs a {label}."))
        elif value is None and _is_huge(raw):
            issues.append(
                ValidationIssue(
                    fld, f"The {label} {float(raw):g} is too large: at most {MAX_PRICE:,.0f}."
                )
            )
        elif value is None:
            issues.append(ValidationIssue(fld, f"The {label} must be a number."))
        elif value > MAX_PRICE:
            issues.append(
                ValidationIssue(
                    fld, f"The {label} {value:g} is too large: at most {MAX_PRICE:,.0f}."
                )
            )
        elif value <= 0:
            issues.append(ValidationIssue(fld, f"The {label} must be greater than 0."))
        else:
            prices[fld] = value
    return issues, prices


def _is_huge(raw: object) -> bool:
    """A float beyond any price (1e308, inf), as opposed to junk or NaN."""
    try:
        number = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return not math.isnan(number) and abs(number) >= 1e300


def short_warning(ticket: OrderTicket, position: float | None) -> str:
    """A SELL for more than the account holds opens a short: say so at preview."""
    if ticket.action != "SELL" or position is None:
        return ""
    qty = float(ticket.quantity)
    held = max(position, 0.0)
    if qty <= held:
        return ""
    short = qty - held
    holding = f"hold {held:g} {ticket.symbol}" if held else f"hold no {ticket.symbol}"
    if position < 0:
        holding = f"are already short {abs(position):g} {ticket.symbol}"
    return (
        f"You {holding}: selling {qty:g} opens a short position of {short:g} shares "
        "(you would owe the shares, with no limit to the loss)."
        if position >= 0
        else f"You {holding}: selling {qty:g} more adds {qty:g} to the short position."
    )


def fmt_price(value: float) -> str:
    return f"{value:,.{max(2, _decimals(value))}f}"


def _decimals(value: float) -> int:
    text = f"{value:.10f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


def off_tick(price: float, tick: float) -> tuple[float, float] | None:
    """None if ``price`` is a multiple of ``tick``, else the two nearest valid prices."""
    if not tick or tick <= 0:
        return None
    steps = price / tick
    if abs(steps - round(steps)) < 1e-6:
        return None
    lo = math.floor(steps) * tick
    places = max(_decimals(tick), 2)
    return round(lo, places), round(lo + tick, places)
