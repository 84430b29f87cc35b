"""The watchlist: a short list of symbols, validated and kept in a small JSON file.

Public API::

    wl = Watchlist(path, validator=None, default=DEFAULT_SYMBOLS)
    wl.symbols() -> list[str]            # the default list until the file exists
    wl.add("aapl") -> AddResult          # raises InvalidSymbolError / UnknownSymbolError
    wl.remove("AAPL") -> bool            # False if it was not there
    wl.reset() -> list[str]              # back to the default list
    normalize_symbol(" brk.b ") -> "BRK.B"   # raises InvalidSymbolError

A validator is ``validator(symbol) -> True | False | None``: True known, False unknown
(the add is refused with ``UnknownSymbolError``), None "could not tell" (e.g. offline:
the symbol is added and ``AddResult.verified`` is False). ``services.py`` wires one that
asks IBKR when connected and the quote providers otherwise.

The file is ``{"symbols": [...]}``; every write goes to a temporary file in the same
folder and is then renamed over the old one, so a crash never leaves half a file. One
``Watchlist`` is shared by every Streamlit session (a lock serialises changes).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEFAULT_SYMBOLS",
    "MAX_SYMBOLS",
    "AddResult",
    "InvalidSymbolError",
    "UnknownSymbolError",
    "Validator",
    "Watchlist",
    "WatchlistError",
    "normalize_symbol",
]

log = logging.getLogger(__name__)

DEFAULT_SYMBOLS: tuple[str, ...] = ("AAPL", "MSFT", "NVDA", "AMZN", "SPY", "TSLA", "NFLX")
MAX_SYMBOLS = 50  # IBKR allows 100 market-data lines; leave room for the rest of the app
_SYMBOL_RE = re.compile(r"^[A-Z0-9][A-Z0-9.\-/ ]{0,14}$")  # inner spaces come single

Validator = Callable[[str], bool | None]


class WatchlistError(ValueError):
    """A change was refused; ``str(exc)`` is a message for the user."""


class InvalidSymbolError(WatchlistError):
    pass


class UnknownSymbolError(WatchlistError):
    pass


@dataclass(frozen=True)
class AddResult:
    symbol: str  # normalised
    added: bool  # False when it was already on the list
    verified: bool  # a validator confirmed the symbol exists
    message: str  # for the user, e.g. "Added AAPL."


def normalize_symbol(raw: str | None) -> str:
    """Upper-case, trimmed; letters, digits, ``.``, ``-``, ``/`` and single inner spaces
    (``BRK B``), at most 15 characters. Raises ``InvalidSymbolError`` otherwise."""
    symbol = " ".join((raw or "").split()).upper()
    if not symbol:
        raise InvalidSymbolError("Enter a symbol, e.g. AAPL.")
    if not _SYMBOL_RE.match(symbol):
        raise InvalidSymbolError(
            f"{symbol[:20]!r} is not a valid symbol: use letters, digits, '.', '-' or '/' "
            "(at most 15 characters)."
        )
    return symbol


class Watchlist:
    def __init__(
        self,
        path: str | os.PathLike[str],
        validator: Validator | None = None,
        default: Sequence[str] = DEFAULT_SYMBOLS,
        max_symbols: int = MAX_SYMBOLS,
    ) -> None:
        self.path = Path(path)
        self.validator = validator
        self.default = [normalize_symbol(s) for s in default]
        self.max_symbols = max_symbols
        self._lock = threading.RLock()
        self._symbols: list[str] | None = None  # loaded lazily

    # -- reading ------------------------------------------------------------------------
    def symbols(self) -> list[str]:
        with self._lock:
            if self._symbols is None:
                self._symbols = self._load()
            return list(self._symbols)

    def __contains__(self, symbol: object) -> bool:
        try:
            key = normalize_symbol(str(symbol))
        except InvalidSymbolError:
            return False
        return key in self.symbols()

    # -- changing -----------------------------------------------------------------------
    def add(self, raw: str) -> AddResult:
        symbol = normalize_symbol(raw)
        if symbol in self.symbols():
            return AddResult(symbol, False, True, f"{symbol} is already on the watchlist.")
        if len(self.symbols()) >= self.max_symbols:
            raise WatchlistError(
                f"The watchlist holds at most {self.max_symbols} symbols: remove one first."
            )
        verdict = self._validate(symbol)  # outside the lock: may take a network round trip
        if verdict is False:
            raise UnknownSymbolError(f"Unknown symbol {symbol}: no market has it.")
        with self._lock:
            current = self.symbols()
            if symbol in current:
                return AddResult(symbol, False, bool(verdict), f"{symbol} is already on the list.")
            self._save([*current, symbol])
        if verdict:
            return AddResult(symbol, True, True, f"Added {symbol}.")
        return AddResult(
            symbol, True, False, f"Added {symbol} (could not check it: no data source answered)."
        )

    def remove(self, raw: str) -> bool:
        try:
            symbol = normalize_symbol(raw)
        except InvalidSymbolError:
            return False
        with self._lock:
            current = self.symbols()
            if symbol not in current:
                return False
            self._save([s for s in current if s != symbol])
            return True

    def reset(self) -> list[str]:
        with self._lock:
            self._save(list(self.default))
            return self.symbols()

    # -- internals ------------------------------------------------------------------------
    def _validate(self, symbol: str) -> bool | None:
        if self.validator is None:
            return None
        try:
            return self.validator(symbol)
        except Exception:
            log.exception("watchlist validator failed for %s", symbol)
            return None

    def _load(self) -> list[str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return list(self.default)
        except (OSError, ValueError) as exc:
            log.warning("watchlist file %s unreadable (%s): using the default list", self.path, exc)
            return list(self.default)
        raw = data.get("symbols") if isinstance(data, dict) else data
        if not isinstance(raw, list):
            log.warning("watchlist file %s has no symbol list: using the default", self.path)
            return list(self.default)
        symbols: list[str] = []
        for item in raw:
            try:
                symbol = normalize_symbol(str(item))
            except InvalidSymbolError:
                log.warning("watchlist file %s: skipping invalid entry %r", self.path, item)
                continue
            if symbol not in symbols:
                symbols.append(symbol)
        return symbols[: self.max_symbols]

    def _save(self, symbols: list[str]) -> None:
        """Atomic write: temp file in the same folder, fsync, rename over the old file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".watchlist-", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"symbols": symbols}, fh, indent=2)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self._symbols = list(symbols)
