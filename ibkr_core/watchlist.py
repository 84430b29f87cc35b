"""The watchlist: a short list of symbols, validated and kept in a small JSON file.

Public API::

    wl = Watchlist(path, validator=None, default=DEFAULT_SYMBOLS)
    wl.symbols() -> list[str]            # the default list until the file exists
    wl.problem -> str | None             # why the file could not be used (for the page)
    wl.add("aapl") -> AddResult          # raises InvalidSymbolError / UnknownSymbolError /
                                         # WatchlistError (full, path unusable)
    wl.remove("AAPL") -> bool            # False if it was not there
    wl.reset() -> list[str]              # back to the default list
    parse_symbol(" brk.b ") -> "BRK B"   # IBKR's spelling; raises InvalidSymbolError

A validator is ``validator(symbol) -> True | False | None``: True known, False unknown
(the add is refused with ``UnknownSymbolError``), None "could not tell" (e.g. offline:
the symbol is added unverified, ``AddResult.verified`` False, with a note). ``services.py``
wires one that asks IBKR when connected and the quote providers otherwise.

The file is ``{"symbols": [...]}`` (a plain list is read too); every write goes to a
temporary file in the same folder, is fsynced and renamed over the old one, so a crash
never leaves half a file. A file we can't read as that (a hand edit with a trailing
comma, numbers instead of symbols, ...) is never overwritten: it is renamed to
``<name>.corrupt-<UTC time>``, ``problem`` says so, and the default list is used. A path
that is a folder (or not writable) gives a plain ``problem`` / ``WatchlistError``. One
``Watchlist`` is shared by every Streamlit session: one lock serialises every change,
and the size cap is checked under it, so concurrent adds never pass it.
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
from datetime import UTC, datetime
from pathlib import Path

from ibkr_core.symbols import normalize_symbol

__all__ = [
    "DEFAULT_SYMBOLS",
    "MAX_SYMBOLS",
    "AddResult",
    "InvalidSymbolError",
    "UnknownSymbolError",
    "Validator",
    "Watchlist",
    "WatchlistError",
    "parse_symbol",
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


class _Corrupt(Exception):
    """The file's content is not a watchlist (message: what is wrong)."""


@dataclass(frozen=True)
class AddResult:
    symbol: str  # normalised
    added: bool  # False when it was already on the list
    verified: bool  # a validator confirmed the symbol exists
    message: str  # for the user, e.g. "Added AAPL."


def parse_symbol(raw: str | None) -> str:
    """``normalize_symbol`` plus the shape check: letters, digits, ``.``, ``-``, ``/``
    and single inner spaces, at most 15 characters. Raises ``InvalidSymbolError``."""
    symbol = normalize_symbol(raw)
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
        self.default = [parse_symbol(s) for s in default]
        self.max_symbols = max_symbols
        self._lock = threading.RLock()
        self._symbols: list[str] | None = None  # loaded lazily
        self._problem: str | None = None
        self._frozen = False  # a corrupt file that could not be set aside: never write

    # -- reading ------------------------------------------------------------------------
    def symbols(self) -> list[str]:
        with self._lock:
            if self._symbols is None:
                self._symbols = self._load()
            return list(self._symbols)

    @property
    def problem(self) -> str | None:
        """Why the saved list could not be used as it is (None: all fine)."""
        with self._lock:
            self.symbols()
            return self._problem

    def __contains__(self, symbol: object) -> bool:
        try:
            key = parse_symbol(str(symbol))
        except InvalidSymbolError:
            return False
        return key in self.symbols()

    # -- changing -----------------------------------------------------------------------
    def add(self, raw: str) -> AddResult:
        symbol = parse_symbol(raw)
        if symbol in self.symbols():
            return AddResult(symbol, False, True, f"{symbol} is already on the watchlist.")
        self._check_room(self.symbols())
        verdict = self._validate(symbol)  # outside the lock: may take a network round trip
        if verdict is False:
            raise UnknownSymbolError(f"Unknown symbol {symbol}: no market has it.")
        with self._lock:
            current = self.symbols()
            if symbol in current:
                return AddResult(symbol, False, bool(verdict), f"{symbol} is already on the list.")
            self._check_room(current)  # again, under the lock: concurrent adds
            self._save([*current, symbol])
        if verdict:
            return AddResult(symbol, True, True, f"Added {symbol}.")
        return AddResult(
            symbol,
            True,
            False,
            f"Added {symbol} unverified: no data source could check it right now "
            "(offline?). Its quotes show once a source answers.",
        )

    def remove(self, raw: str) -> bool:
        try:
            symbol = parse_symbol(raw)
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
    def _check_room(self, current: list[str]) -> None:
        if len(current) >= self.max_symbols:
            raise WatchlistError(
                f"The watchlist holds at most {self.max_symbols} symbols: remove one first."
            )

    def _validate(self, symbol: str) -> bool | None:
        if self.validator is None:
            return None
        try:
            return self.validator(symbol)
        except Exception:
            log.exception("watchlist validator failed for %s", symbol)
            return None

    def _load(self) -> list[str]:
        self._problem = None
        if self.path.is_dir():
            self._problem = self._folder_message()
            return list(self.default)
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return list(self.default)
        except (OSError, UnicodeDecodeError) as exc:
            self._problem = (
                f"The watchlist file {self.path} can't be read "
                f"({getattr(exc, 'strerror', None) or exc}): showing the default list."
            )
            return list(self.default)
        try:
            symbols = _parse_file(text)
        except _Corrupt as exc:
            return self._set_aside(str(exc))
        if len(symbols) > self.max_symbols:
            self._problem = (
                f"The watchlist file holds {len(symbols)} symbols; the watchlist shows the "
                f"first {self.max_symbols} (the most it streams). Remove some to see the rest."
            )
            return symbols[: self.max_symbols]
        return symbols

    def _set_aside(self, why: str) -> list[str]:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        kept = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        try:
            os.replace(self.path, kept)
        except OSError as exc:
            log.warning("could not set aside %s: %s", self.path, exc)
            self._problem = (
                f"The watchlist file {self.path} is not a valid watchlist ({why}) and could "
                "not be set aside: showing the default list; changes are not saved."
            )
            self._frozen = True
            return list(self.default)
        log.warning("watchlist file %s was not valid (%s): kept as %s", self.path, why, kept)
        self._problem = (
            f"The watchlist file was not valid ({why}). It was kept unchanged as {kept.name} "
            "next to it; the default list is shown until you fix and restore it."
        )
        return list(self.default)

    def _folder_message(self) -> str:
        return (
            f"The watchlist path {self.path} is a folder, not a file: the watchlist can't be "
            "saved. Point IBKR_WATCHLIST_FILE (watchlist_file) at a file."
        )

    def _save(self, symbols: list[str]) -> None:
        """Atomic write: temp file in the same folder, fsync, rename over the old file."""
        if self._frozen:
            raise WatchlistError(self._problem or "The watchlist can't be saved.")
        if self.path.is_dir():
            raise WatchlistError(self._folder_message())
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".watchlist-", suffix=".tmp", dir=self.path.parent)
        except OSError as exc:
            raise WatchlistError(
                f"The watchlist can't be saved in {self.path.parent}: {exc.strerror or exc}."
            ) from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"symbols": symbols}, fh, indent=2)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise WatchlistError(
                f"The watchlist can't be saved to {self.path}: {exc.strerror or exc}."
            ) from None
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self._symbols = list(symbols)


def _parse_file(text: str) -> list[str]:
    """The symbols of a watchlist file; ``_Corrupt`` for anything else."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise _Corrupt(f"not JSON: {exc}") from None
    raw = data.get("symbols") if isinstance(data, dict) else data
    if not isinstance(raw, list):
        raise _Corrupt('no "symbols" list')
    symbols: list[str] = []
    for item in raw:
        if not isinstance(item, str):
            raise _Corrupt(f"{item!r} is not a symbol (symbols are text)")
        try:
            symbol = parse_symbol(item)
        except InvalidSymbolError:
            raise _Corrupt(f"{item[:20]!r} is not a symbol") from None
        if symbol not in symbols:
            symbols.append(symbol)
    return symbols
