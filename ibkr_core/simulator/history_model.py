"""The simulated gateway's price history: a seeded factor model, so the demo is worth exploring.

Each bar's log return is ``scale * (beta * M + loading * S_sector + idio * E) + drift``:
``M`` is one market factor shared by every instrument (SPY is almost pure market), ``S``
a factor per sector (``Instrument.industry``: Technology, Financial, ...), ``E`` the
instrument's own noise. Loadings are chosen so stocks co-move with SPY (correlations
0.4-0.8), names of one sector co-move more, TLT / GLD / EUR.USD barely follow equities,
and each instrument's total daily volatility is its ``daily_volatility``.

Draws are keyed by the bar's slot (a date's ordinal for daily bars, the epoch second of
the bar start divided by the bar length for intraday bars) through counter-seeded numpy
generators, so the same (seed, symbol, bar) always has the same return whatever the
request window: a longer request extends a shorter one backwards, and two requests a
day apart agree on every day they share. Nothing here reads the clock.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np

from .universe import Instrument

MARKET_VOL = 0.0088  # one day's standard deviation of the market factor (~14 % a year)
SECTOR_VOL = 0.0075
EQUITY_DRIFT = 0.0003  # per day, times beta (~7.5 % a year for the market)
_CHUNK = 1024

# Market betas; sector loadings default to 1.0 for stocks, 0 for funds and FX.
_BETA_BY_SECTOR = {
    "Technology": 1.2,
    "Communications": 1.1,
    "Consumer, Cyclical": 1.3,
    "Consumer, Non-cyclical": 0.6,
    "Financial": 1.1,
    "Energy": 0.8,
}
_BETA = {
    "SPY": 1.0,
    "QQQ": 1.2,
    "IWM": 1.15,
    "TLT": -0.25,
    "GLD": 0.1,
    "EUR.USD": 0.05,
    "NVDA": 1.7,
    "AMD": 1.6,
    "TSLA": 1.8,
    "META": 1.3,
}
# Funds' own factors (QQQ leans on technology, bonds and gold have their own).
_FACTOR = {"QQQ": ("Technology", 0.45), "TLT": ("rates", 1.0), "GLD": ("gold", 1.0)}


@dataclass(frozen=True)
class Exposure:
    beta: float
    sector: str
    loading: float  # on the sector factor, in units of SECTOR_VOL
    idio: float  # own volatility per day
    drift: float  # per day

    @classmethod
    def of(cls, inst: Instrument) -> Exposure:
        key = inst.key
        if inst.is_fx or inst.industry == "Funds":
            sector, loading = _FACTOR.get(key, ("", 0.0))
            beta = _BETA.get(key, 0.0)
        else:
            sector, loading = inst.industry, 1.0
            beta = _BETA.get(key, _BETA_BY_SECTOR.get(inst.industry, 1.0))
        vol = inst.daily_volatility
        common = (beta * MARKET_VOL) ** 2 + (loading * SECTOR_VOL) ** 2
        idio = math.sqrt(max(vol * vol - common, (0.15 * vol) ** 2))
        drift = EQUITY_DRIFT * beta if not inst.is_fx else 0.0
        return cls(beta, sector, loading, idio, drift)


@lru_cache(maxsize=8192)
def _chunk(seed: int, stream: str, chunk: int) -> np.ndarray:
    key = zlib.crc32(stream.encode())
    out = np.random.default_rng([seed, key, chunk]).standard_normal(_CHUNK)
    out.setflags(write=False)
    return out


def normals(seed: int, stream: str, slots: np.ndarray) -> np.ndarray:
    """Standard normal draws, one per slot, fixed by (seed, stream, slot)."""
    slots = np.asarray(slots, dtype=np.int64)
    out = np.empty(len(slots))
    chunks = slots // _CHUNK
    for c in np.unique(chunks):
        mask = chunks == c
        out[mask] = _chunk(seed, stream, int(c))[slots[mask] % _CHUNK]
    return out


def log_returns(
    seed: int, inst: Instrument, slots: np.ndarray, frequency: str, scale: float
) -> np.ndarray:
    """Log returns of `inst` over bars `slots` of one `frequency` ("1 day", "5 mins", ...);
    `scale` is sqrt(bar length / one trading day)."""
    exp = Exposure.of(inst)
    ret = exp.beta * MARKET_VOL * normals(seed, f"market:{frequency}", slots)
    if exp.sector and exp.loading:
        sector = normals(seed, f"sector:{exp.sector}:{frequency}", slots)
        ret += exp.loading * SECTOR_VOL * sector
    ret += exp.idio * normals(seed, f"own:{inst.key}:{frequency}", slots)
    return scale * ret + exp.drift * scale * scale


def slot_numbers(slots: list, seconds: int) -> np.ndarray:
    """Integer keys of bar slots: a date's ordinal, or epoch seconds // bar length."""
    if slots and isinstance(slots[0], date):
        return np.array([d.toordinal() for d in slots], dtype=np.int64)
    return np.array([int(t) // max(seconds, 1) for t in slots], dtype=np.int64)


@dataclass(frozen=True)
class BarShape:
    """Per-bar open, high/low and volume noise (unit normals), fixed by the slot."""

    gap: np.ndarray
    high: np.ndarray
    low: np.ndarray
    volume: np.ndarray
    count: np.ndarray

    @classmethod
    def of(cls, seed: int, inst: Instrument, slots: np.ndarray, frequency: str) -> BarShape:
        def draw(name: str) -> np.ndarray:
            return normals(seed, f"{name}:{inst.key}:{frequency}", slots)

        return cls(draw("gap"), draw("high"), draw("low"), draw("vol"), draw("count"))


def closes_back(anchor: float, returns: np.ndarray) -> np.ndarray:
    """Closes of every bar given the last close `anchor` and each bar's log return:
    close[i] = anchor * exp(-sum of returns after bar i)."""
    after = np.concatenate([np.cumsum(returns[::-1])[::-1][1:], [0.0]])
    return anchor * np.exp(-after)
