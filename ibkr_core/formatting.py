"""How the dashboard writes numbers, money and times: one place, used by the pages and by
the push stream (``ibkr_core/web/live.py``), so a pushed figure reads exactly as the page
draws it.

    fmt_money(1234.5, "USD") -> "$1,234.50";  fmt_money(-3, "USD", signed=True) -> "-$3.00"
    fmt_money(12.5, "CHF") -> "12.50 CHF";    fmt_money(None, "USD") -> "—" (unknown, never 0)
    fmt_number(1234.5, digits=2) -> "1,234.50";  fmt_pct(1.234) -> "+1.23%"
    fmt_time(dt) -> "14:03:12 UTC";  fmt_age(seconds) -> "12 s ago"
    unit_digits(5.205) -> 4   (prices per unit keep IBKR's precision, at least cents)
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

__all__ = [
    "DASH",
    "fmt_age",
    "fmt_money",
    "fmt_number",
    "fmt_pct",
    "fmt_time",
    "is_missing",
    "unit_digits",
]

DASH = "—"

_CURRENCY_SIGNS = {
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "¥",
    "HKD": "HK$",
    "CAD": "C$",
    "AUD": "A$",
}


def is_missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_number(value: float | None, digits: int = 2, signed: bool = False) -> str:
    if is_missing(value):
        return DASH
    return f"{value:+,.{digits}f}" if signed else f"{value:,.{digits}f}"


def fmt_money(
    value: float | None, currency: str = "USD", signed: bool = False, digits: int = 2
) -> str:
    if is_missing(value):
        return DASH
    sign = "-" if value < 0 else ("+" if signed and value > 0 else "")
    symbol = _CURRENCY_SIGNS.get((currency or "").upper())
    body = f"{abs(value):,.{digits}f}"
    return f"{sign}{symbol}{body}" if symbol else f"{sign}{body} {currency}".strip()


def fmt_pct(value: float | None, digits: int = 2, signed: bool = True) -> str:
    if is_missing(value):
        return DASH
    return f"{value:+.{digits}f}%" if signed else f"{value:.{digits}f}%"


def fmt_time(value: datetime | None) -> str:
    if value is None:
        return DASH
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%H:%M:%S UTC")


def fmt_age(seconds: float | None) -> str:
    if seconds is None:
        return DASH
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s ago"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.0f} d ago"


def unit_digits(value: float) -> int:
    """Prices per unit keep IBKR's precision (an option's 5.205), at least cents."""
    return 2 if round(value, 2) == round(value, 6) else 4
