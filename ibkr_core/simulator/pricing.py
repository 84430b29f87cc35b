"""Option model for the simulated gateway: Black-Scholes (stock options) and Black-76
(options on futures), the greeks TWS sends in tick option computation (tick types 10-13).

TWS's model greeks are per share of the underlying (delta in [-1, 1]); vega and theta are
per 1 vol point and per calendar day, as TWS reports them (IBKR "Option Greeks" doc).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from .universe import EASTERN, Instrument

RATE = 0.04  # risk-free rate of the model
YEAR = 365.0 * 86400.0


@dataclass(frozen=True)
class Greeks:
    implied_vol: float
    delta: float
    price: float
    pv_dividend: float
    gamma: float
    vega: float
    theta: float
    und_price: float


def _n(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def expiry_time(inst: Instrument) -> float:
    """Epoch seconds of the option's expiry (16:00 US/Eastern on its last trade date)."""
    d = datetime.strptime(inst.last_trade_date[:8], "%Y%m%d")
    return datetime(d.year, d.month, d.day, 16, 0, tzinfo=EASTERN).timestamp()


def greeks(inst: Instrument, und_price: float, now: float, vol: float | None = None) -> Greeks:
    """Model price and greeks of option `inst` with the underlying at `und_price`."""
    sigma = vol if vol is not None else inst.implied_vol
    t = max((expiry_time(inst) - now) / YEAR, 1.0 / (365.0 * 24.0))
    s, k = und_price, inst.strike
    call = inst.right == "C"
    sqrt_t = math.sqrt(t)
    # Black-76 for options on futures: the forward is the future's price.
    forward = s if inst.sec_type == "FOP" else s * math.exp(RATE * t)
    disc = math.exp(-RATE * t)
    d1 = (math.log(forward / k) + 0.5 * sigma * sigma * t) / (sigma * sqrt_t)
    d2 = d1 - sigma * sqrt_t
    if call:
        price = disc * (forward * _n(d1) - k * _n(d2))
        delta = disc * _n(d1) if inst.sec_type == "FOP" else _n(d1)
    else:
        price = disc * (k * _n(-d2) - forward * _n(-d1))
        delta = -disc * _n(-d1) if inst.sec_type == "FOP" else _n(d1) - 1.0
    scale = disc if inst.sec_type == "FOP" else 1.0
    gamma = scale * _pdf(d1) / (s * sigma * sqrt_t)
    vega = scale * s * _pdf(d1) * sqrt_t / 100.0
    decay = -scale * s * _pdf(d1) * sigma / (2.0 * sqrt_t)
    carry = RATE * k * disc * (_n(d2) if call else -_n(-d2))
    theta = (decay - carry) / 365.0
    return Greeks(sigma, delta, max(price, 0.0), 0.0, gamma, vega, theta, und_price)
