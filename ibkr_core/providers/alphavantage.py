"""Alpha Vantage GLOBAL_QUOTE, one HTTP request per symbol.

Alpha Vantage always answers HTTP 200 and reports limits and key problems as text in
the JSON body, so failures are classified by that text. The API key is a secret: it is
in the request URL, so the URL is never logged or put in an exception, and any
provider text is redacted before it leaves this module (some messages quote the key).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import urlopen
from zoneinfo import ZoneInfo

from ibkr_core.providers.base import (
    UNKNOWN_SYMBOL,
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderUnavailable,
)
from ibkr_core.quote import Quote, QuoteSource, clean
from ibkr_core.settings import Settings

log = logging.getLogger(__name__)

QUOTE_KEY = "Global Quote"  # also "Global Quote - DATA DELAYED BY 15 MINUTES"
# Quote field -> GLOBAL_QUOTE key (every value arrives as a string).
QUOTE_FIELDS: dict[str, str] = {
    "last": "05. price",
    "high": "03. high",
    "low": "04. low",
    "volume": "06. volume",
    "previous_close": "08. previous close",
}
TRADING_DAY_KEY = "07. latest trading day"
EXCHANGE_TZ = ZoneInfo("America/New_York")

BURST_RETRY_AFTER = 2.0
PER_MINUTE_RETRY_AFTER = 60.0
UNKNOWN_LIMIT_RETRY_AFTER = 60.0


class AlphaVantageProvider:
    name = QuoteSource.ALPHA_VANTAGE

    def __init__(self, settings: Settings, min_interval: float = 1.1) -> None:
        """``min_interval`` spaces requests: the free tier allows 1 request per second."""
        self._key = settings.alphavantage_api_key.strip()
        self._url = settings.alphavantage_url
        self._timeout = settings.provider_timeout
        self._min_interval = min_interval
        self._pace_lock = threading.Lock()
        self._last_request = 0.0

    def __repr__(self) -> str:
        return f"AlphaVantageProvider(configured={self.configured})"

    @property
    def configured(self) -> bool:
        return bool(self._key)

    def fetch(self, symbols: list[str]) -> dict[str, Quote]:
        if not self.configured:
            raise ProviderAuthError("Alpha Vantage API key not configured")
        quotes: dict[str, Quote] = {}
        for symbol in symbols:
            try:
                quotes[symbol] = self.fetch_one(symbol)
            except ProviderRateLimited as exc:
                raise ProviderRateLimited(str(exc), exc.retry_after, partial=quotes) from None
        return quotes

    def fetch_one(self, symbol: str) -> Quote:
        payload = self._get({"function": "GLOBAL_QUOTE", "symbol": symbol})
        return parse_global_quote(symbol, payload, self._redact)

    def _get(self, params: dict[str, str]) -> dict[str, Any]:
        url = f"{self._url}?{urlencode({**params, 'apikey': self._key})}"
        self._pace()
        try:
            with urlopen(url, timeout=self._timeout) as response:
                body = response.read()
        except HTTPError as exc:
            raise ProviderUnavailable(f"Alpha Vantage answered HTTP {exc.code}") from None
        except (URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ProviderUnavailable(
                self._redact(f"Alpha Vantage unreachable: {reason}")
            ) from None
        except Exception as exc:  # e.g. ValueError for a bad URL: its text holds the key
            failure = f"Alpha Vantage request failed ({type(exc).__name__})"
            raise ProviderUnavailable(failure) from None
        try:
            payload = json.loads(body)
        except ValueError:
            raise ProviderUnavailable("Alpha Vantage sent a response that is not JSON") from None
        if not isinstance(payload, dict):
            raise ProviderUnavailable("Alpha Vantage sent an unexpected response")
        return payload

    def _pace(self) -> None:
        with self._pace_lock:
            wait = self._last_request + self._min_interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._last_request = time.monotonic()

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text


def parse_global_quote(symbol: str, payload: dict[str, Any], redact=lambda t: t) -> Quote:
    """Turn one GLOBAL_QUOTE answer into a Quote, or raise the provider-wide failure."""
    quote_key = next((k for k in payload if k.startswith(QUOTE_KEY)), None)
    if quote_key is not None:
        data = payload[quote_key]
        if not data:
            source = QuoteSource.ALPHA_VANTAGE
            return Quote.failed(symbol, UNKNOWN_SYMBOL, source, unknown_symbol=True)
        return _to_quote(symbol, data)
    message = str(payload.get("Error Message") or payload.get("Information") or "")
    message = message or str(payload.get("Note") or "")
    if not message:
        raise ProviderUnavailable("Alpha Vantage sent an unexpected response")
    if "Error Message" in payload and not _is_key_problem(message):
        return Quote.failed(symbol, redact(f"Alpha Vantage: {message}"), QuoteSource.ALPHA_VANTAGE)
    raise classify_message(redact(message))


def classify_message(message: str) -> ProviderError:
    """Alpha Vantage's free-text notices -> the provider error they mean."""
    text = message.lower()
    if _is_key_problem(message):
        return ProviderAuthError("Alpha Vantage rejected the API key (invalid or missing)")
    if "premium endpoint" in text and "this is a premium" in text:
        return ProviderAuthError("Alpha Vantage: this endpoint needs a premium plan")
    if "per second" in text or "burst" in text:
        return ProviderRateLimited(
            "Alpha Vantage burst limit (1 request per second)", BURST_RETRY_AFTER
        )
    if "per minute" in text:
        return ProviderRateLimited("Alpha Vantage per-minute limit", PER_MINUTE_RETRY_AFTER)
    if "per day" in text:
        return ProviderRateLimited("Alpha Vantage daily limit reached", _seconds_to_utc_midnight())
    if "rate limit" in text or "call frequency" in text or "thank you for using" in text:
        return ProviderRateLimited("Alpha Vantage rate limit", UNKNOWN_LIMIT_RETRY_AFTER)
    return ProviderUnavailable(f"Alpha Vantage: {message}")


def _is_key_problem(message: str) -> bool:
    text = message.lower()
    mentions_key = "apikey" in text or "api key" in text
    return mentions_key and ("invalid" in text or "missing" in text)


def _seconds_to_utc_midnight(now: datetime | None = None) -> float:
    """The free daily quota is assumed to reset at midnight UTC."""
    now = now or datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(60.0, (midnight - now).total_seconds())


def _to_quote(symbol: str, data: dict[str, Any]) -> Quote:
    values = {field: _number(data.get(key)) for field, key in QUOTE_FIELDS.items()}
    return Quote(
        symbol=symbol,
        source=QuoteSource.ALPHA_VANTAGE,
        provider_time=_trading_day(data.get(TRADING_DAY_KEY)),
        **values,
    )


def _number(raw: Any) -> float | None:
    try:
        return clean(float(str(raw).rstrip("%")))
    except (TypeError, ValueError):
        return None


def _trading_day(raw: Any) -> datetime | None:
    """Alpha Vantage gives only the trading day: take its start in New York."""
    try:
        day = datetime.strptime(str(raw), "%Y-%m-%d")
    except ValueError:
        return None
    return day.replace(tzinfo=EXCHANGE_TZ).astimezone(UTC)
