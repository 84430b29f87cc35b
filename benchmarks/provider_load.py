"""Provider load: 10 concurrent sessions (threads calling ``QuoteManager.get_quotes`` once a
second, as a page refresh does) ask for 50 symbols for 60 s while IBKR is disconnected.
The fallbacks are stand-ins on this machine: a counting Yahoo provider (one request per
symbol, like the real one's per-symbol chart requests) and a local HTTP server speaking
Alpha Vantage's GLOBAL_QUOTE shape, reached by the real ``AlphaVantageProvider`` through
``settings.alphavantage_url``. Two scenarios: Yahoo up (Alpha Vantage never needed) and
Yahoo down (every symbol must come from Alpha Vantage). Upstream requests are compared
with the naive one request per symbol per session per refresh.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from benchmarks.common import percentile, save_raw

NAME = "provider_load"
TITLE = "Fallback providers under 10 sessions"
SYMBOLS = [f"S{n:02d}" for n in range(50)]


class AlphaVantageStandIn:
    """GLOBAL_QUOTE on 127.0.0.1, answering every symbol; counts requests."""

    def __init__(self, latency: float = 0.05) -> None:
        self.requests: Counter[str] = Counter()
        self.latency = latency
        self._lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlparse(self.path).query)
                symbol = query.get("symbol", [""])[0]
                with stand_in._lock:
                    stand_in.requests[symbol] += 1
                time.sleep(stand_in.latency)
                price = 100.0 + (sum(map(ord, symbol)) % 100)
                body = json.dumps(
                    {
                        "Global Quote": {
                            "01. symbol": symbol,
                            "02. open": f"{price - 1:.4f}",
                            "03. high": f"{price + 1:.4f}",
                            "04. low": f"{price - 2:.4f}",
                            "05. price": f"{price:.4f}",
                            "06. volume": "9226278",
                            "07. latest trading day": time.strftime("%Y-%m-%d"),
                            "08. previous close": f"{price - 0.5:.4f}",
                            "09. change": "0.5000",
                            "10. change percent": "0.5000%",
                        }
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/query"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> AlphaVantageStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def total(self) -> int:
        return sum(self.requests.values())


class CountingYahoo:
    """A Yahoo stand-in with the real provider's shape: one request per symbol."""

    configured = True

    def __init__(self, up: bool = True, latency: float = 0.3) -> None:
        from ibkr_core.quote import QuoteSource

        self.name = QuoteSource.YAHOO
        self.up = up
        self.latency = latency
        self.requests = 0
        self.calls = 0
        self._lock = threading.Lock()

    def fetch(self, symbols: list[str]) -> dict[str, Any]:
        from datetime import UTC, datetime

        from ibkr_core.providers.base import ProviderUnavailable
        from ibkr_core.quote import Quote

        with self._lock:
            self.calls += 1
            self.requests += len(symbols)
        time.sleep(self.latency)  # the real one runs its requests 8 at a time
        if not self.up:
            raise ProviderUnavailable("Yahoo stand-in is down")
        now = datetime.now(UTC)
        return {
            s: Quote(symbol=s, source=self.name, last=100.0, provider_time=now) for s in symbols
        }


def scenario(
    yahoo_up: bool, seconds: float, sessions: int = 10, symbols: list[str] | None = None
) -> dict[str, Any]:
    """One scenario; returns request counts and per-refresh latencies."""
    from ibkr_core.connection import IBKRConnection
    from ibkr_core.ibkr_market_data import IBKRQuoteProvider
    from ibkr_core.providers.alphavantage import AlphaVantageProvider
    from ibkr_core.quote_manager import QuoteManager
    from ibkr_core.settings import Settings

    symbols = symbols or SYMBOLS
    with AlphaVantageStandIn() as av:
        settings = Settings(alphavantage_api_key="bench-key", alphavantage_url=av.url, port=1)
        yahoo = CountingYahoo(up=yahoo_up)
        connection = IBKRConnection(settings, auto_reconnect=False)  # never connected
        manager = QuoteManager(
            [yahoo, AlphaVantageProvider(settings)], settings, ibkr=IBKRQuoteProvider(connection)
        )
        latencies: list[float] = []
        priced: list[int] = []
        refreshes = [0]
        lock = threading.Lock()
        stop_at = time.monotonic() + seconds

        def session(offset: float) -> None:
            time.sleep(offset)
            while time.monotonic() < stop_at:
                t0 = time.monotonic()
                quotes = manager.get_quotes(symbols)
                took = time.monotonic() - t0
                with lock:
                    latencies.append(took)
                    priced.append(sum(1 for q in quotes.values() if q.ok))
                    refreshes[0] += 1
                time.sleep(max(0.0, 1.0 - took))

        threads = [
            threading.Thread(target=session, args=(i / sessions,), daemon=True)
            for i in range(sessions)
        ]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join(seconds + settings.provider_timeout + 10)
        finally:
            manager.close()
            connection.close()
        av_total = av.total
    naive = refreshes[0] * len(symbols)
    return {
        "yahoo_up": yahoo_up,
        "sessions": sessions,
        "symbols": len(symbols),
        "seconds": seconds,
        "refreshes": refreshes[0],
        "naive_requests": naive,
        "yahoo_requests": yahoo.requests,
        "yahoo_calls": yahoo.calls,
        "alphavantage_requests": av_total,
        "upstream_requests": yahoo.requests + av_total,
        "latency_ms_p50": 1000 * percentile(latencies, 50),
        "latency_ms_p95": 1000 * percentile(latencies, 95),
        "latency_ms_max": 1000 * max(latencies) if latencies else float("nan"),
        "priced_fraction": (sum(priced) / (len(priced) * len(symbols))) if priced else 0.0,
    }


def run(quick: bool) -> dict[str, Any]:
    seconds = 20.0 if quick else 60.0
    result = {"runs": [scenario(True, seconds), scenario(False, seconds)]}
    save_raw(NAME, result)
    return result


def render(result: dict[str, Any], plots: Any) -> str:
    first = result["runs"][0]
    lines = [
        f"{first['sessions']} sessions × {first['symbols']} symbols, one refresh a second "
        f"each, {first['seconds']:.0f} s, IBKR disconnected, quote cache TTL 15 s, provider "
        "timeout 5 s. Naive = one upstream request per symbol per session per refresh.",
        "",
        "| scenario | refreshes | naive requests | Yahoo requests (batches) | Alpha Vantage "
        "requests | upstream / naive | quotes priced | get_quotes p50 | p95 | max |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["runs"]:
        label = "Yahoo up" if r["yahoo_up"] else "Yahoo down → Alpha Vantage"
        lines.append(
            f"| {label} | {r['refreshes']} | {r['naive_requests']:,} "
            f"| {r['yahoo_requests']} ({r['yahoo_calls']}) | {r['alphavantage_requests']} "
            f"| {r['upstream_requests'] / max(1, r['naive_requests']):.2%} "
            f"| {r['priced_fraction']:.0%} | {r['latency_ms_p50']:.0f} ms "
            f"| {r['latency_ms_p95']:.0f} ms | {r['latency_ms_max']:.0f} ms |"
        )
    return "\n".join(lines)
