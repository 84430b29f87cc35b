"""What a quote provider is, and how it fails.

Providers know nothing of each other: ordering, fallback, caching and back-off are the
job of :class:`ibkr_core.quote_manager.QuoteManager`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import pandas as pd

from ibkr_core.quote import Quote, QuoteSource

UNKNOWN_SYMBOL = "unknown symbol"


class ProviderError(Exception):
    """Base of every provider failure that concerns the whole provider, not one symbol."""


class ProviderRateLimited(ProviderError):
    """The provider asked us to slow down.

    ``retry_after`` is in seconds (None when the provider did not say). ``partial``
    holds the quotes obtained before the limit hit, so they are not thrown away.
    """

    def __init__(
        self,
        message: str,
        retry_after: float | None = None,
        partial: dict[str, Quote] | None = None,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.partial = dict(partial or {})


class ProviderAuthError(ProviderError):
    """The key is missing, invalid or not entitled: retrying will not help."""


class ProviderUnavailable(ProviderError):
    """The provider is down, unreachable or too slow."""


@runtime_checkable
class QuoteProvider(Protocol):
    """A fallback quote source.

    ``fetch`` blocks. It prices many symbols per call where the provider allows it.
    An unknown symbol yields a ``Quote`` whose ``error`` says so (never an exception,
    and never at the expense of the other symbols); provider-wide failures raise a
    :class:`ProviderError`. ``configured`` is False when the provider cannot work at
    all (e.g. no API key), so it is never asked.
    """

    name: QuoteSource

    @property
    def configured(self) -> bool: ...

    def fetch(self, symbols: list[str]) -> dict[str, Quote]: ...


@runtime_checkable
class IbkrQuoteSource(Protocol):
    """The live IBKR connection as the quote manager sees it.

    ``fetch`` is a non-blocking read of the current market-data snapshot; with
    ``first_tick_wait`` it may wait that long for a new symbol's first tick.
    """

    def is_available(self) -> bool: ...

    def fetch(self, symbols: list[str], first_tick_wait: float = 0.0) -> dict[str, Quote]: ...


IbkrHistory = Callable[[str, str], pd.DataFrame | None]
"""``ibkr_history(symbol, range_key)``: bars from IBKR, or None when it has none."""
