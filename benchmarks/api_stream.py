"""WebSocket quote stream: tick -> client latency, and throughput with 100 subscriptions.

    python -m benchmarks.api_stream [--changes 200] [--seconds 5] [--clients 4]

Setup: the simulated gateway runs in this process (still market: prices move only when
we call ``gw.set_price``, at a known instant). The API server runs in a child process
(``python -m benchmarks.api_stream serve``: ibkr_core services connected to that
gateway, uvicorn on 127.0.0.1), as it would in production. The fallback providers are
replaced by one that answers nothing, so nothing leaves 127.0.0.1.

- latency: one client subscribed to AAPL; ``set_price`` to a new value, then time until
  the quote message with that price arrives; ``--changes`` times, one at a time.
- throughput: ``--clients`` clients each subscribed to the same 25 symbols (the
  simulator has 26 stocks; 4 x 25 = 100 subscriptions), while a driver thread moves the
  25 prices round-robin as fast as it can for ``--seconds``. Reported: price changes
  made per second, quote messages delivered per second (all clients), and the server's
  snapshot reads per second. The stream keeps only the latest value per symbol, so under
  a flood a client receives fewer messages than there were changes (never stale ones).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

from websockets.sync.client import ClientConnection, connect

SYMBOLS_PER_CLIENT = 25


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- server (child process)
def serve(gateway_port: int, port: int) -> None:
    import uvicorn

    from ibkr_core.api import create_app
    from ibkr_core.quote import Quote, QuoteSource
    from ibkr_core.quote_manager import QuoteManager
    from ibkr_core.services import build_services
    from ibkr_core.settings import Settings

    class NoFallback:
        name = QuoteSource.YAHOO
        configured = True

        def fetch(self, symbols: list[str]) -> dict[str, Quote]:
            return {s: Quote.failed(s, "benchmark: no fallback", self.name) for s in symbols}

    settings = Settings(
        host="127.0.0.1",
        port=gateway_port,
        client_id=50,
        watchlist_file=os.path.join(tempfile.mkdtemp(), "watchlist.json"),
    )
    services = build_services(settings)
    services.quotes.close()
    services.quotes = QuoteManager([NoFallback()], settings, ibkr=services.ibkr)
    status = services.connect(settings.host, settings.port, settings.client_id + 100)
    if not status.connected:
        raise SystemExit(f"server: not connected: {status.last_error}")
    app = create_app(services, own_services=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


# ---------------------------------------------------------------- client side
def open_stream(url: str, timeout: float = 20.0) -> ClientConnection:
    deadline = time.monotonic() + timeout
    while True:
        try:
            ws = connect(url, open_timeout=5, close_timeout=2, max_queue=None, legacy=True)
            assert json.loads(ws.recv(timeout=5))["type"] == "welcome"
            return ws
        except (OSError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def subscribe(ws: ClientConnection, symbols: list[str]) -> None:
    ws.send(json.dumps({"action": "subscribe", "symbols": symbols}))


def wait_ibkr_quotes(ws: ClientConnection, symbols: list[str], timeout: float = 15.0) -> dict:
    """The first IBKR-sourced quote of each symbol."""
    seen: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while len(seen) < len(symbols):
        message = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        is_ibkr = message["type"] == "quote" and str(message["source"]).startswith("ibkr")
        if is_ibkr and message["last"] is not None:
            seen[message["symbol"]] = message
    return seen


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure_latency(gw: Any, url: str, changes: int) -> list[float]:
    ws = open_stream(url)
    try:
        subscribe(ws, ["AAPL"])
        base = wait_ibkr_quotes(ws, ["AAPL"])["AAPL"]["last"]
        latencies = []
        for i in range(changes):
            price = round(base + 0.05 * ((i % 40) + 1) * (1 if i % 80 < 40 else -1), 2)
            started = time.perf_counter()
            gw.set_price("AAPL", price)
            while True:
                message = json.loads(ws.recv(timeout=5))
                if message["type"] == "quote" and message["last"] == price:
                    break
            latencies.append(time.perf_counter() - started)
        return latencies
    finally:
        ws.close()


def measure_throughput(
    gw: Any, url: str, symbols: list[str], clients: int, seconds: float
) -> dict[str, float]:
    sockets = [open_stream(url) for _ in range(clients)]
    for ws in sockets:
        subscribe(ws, symbols)
    bases = {}
    for ws in sockets:
        bases.update({s: q["last"] for s, q in wait_ibkr_quotes(ws, symbols).items()})
    counts = [0] * clients
    stop = threading.Event()

    def reader(index: int, ws: ClientConnection) -> None:
        while not stop.is_set():
            try:
                message = json.loads(ws.recv(timeout=0.2))
            except TimeoutError:
                continue
            if message["type"] == "quote":
                counts[index] += 1

    readers = [
        threading.Thread(target=reader, args=(i, ws), daemon=True) for i, ws in enumerate(sockets)
    ]
    for thread in readers:
        thread.start()
    changes = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        symbol = symbols[changes % len(symbols)]
        step = (changes // len(symbols)) % 20 + 1
        gw.set_price(symbol, round(bases[symbol] * (1 + 0.0005 * step), 2))
        changes += 1
    elapsed = time.perf_counter() - started
    time.sleep(0.5)  # let the last changes arrive
    stop.set()
    for thread in readers:
        thread.join(2)
    for ws in sockets:
        ws.close()
    return {
        "changes_per_s": changes / elapsed,
        "messages_per_s": sum(counts) / elapsed,
        "messages_per_client_s": sum(counts) / elapsed / clients,
        "subscriptions": clients * len(symbols),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="?", default="bench", choices=["bench", "serve"])
    parser.add_argument("--gateway-port", type=int, default=0)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if args.mode == "serve":
        serve(args.gateway_port, args.port)
        return

    from ibkr_core.simulator import SimConfig, start_in_background
    from ibkr_core.simulator.universe import UNIVERSE

    gw = start_in_background(seed=1, port=0, config=SimConfig(tick_interval=3600.0))
    port = free_port()
    command = [sys.executable, "-m", "benchmarks.api_stream", "serve"]
    server = subprocess.Popen([*command, "--gateway-port", str(gw.port), "--port", str(port)])
    url = f"ws://127.0.0.1:{port}/api/market-data/stream"
    symbols = [i.symbol for i in UNIVERSE if i.sec_type == "STK"][:SYMBOLS_PER_CLIENT]
    try:
        p50s, p95s = [], []
        for _ in range(args.repeats):
            lat = measure_latency(gw, url, args.changes)
            p50s.append(statistics.median(lat) * 1000)
            p95s.append(pct(lat, 0.95) * 1000)
            print(
                f"latency over {len(lat)} changes: p50 {p50s[-1]:.2f} ms, "
                f"p95 {p95s[-1]:.2f} ms, max {max(lat) * 1000:.2f} ms"
            )
        print(
            f"latency median of {args.repeats} runs: p50 {statistics.median(p50s):.2f} ms, "
            f"p95 {statistics.median(p95s):.2f} ms"
        )
        rates = []
        for _ in range(args.repeats):
            r = measure_throughput(gw, url, symbols, args.clients, args.seconds)
            rates.append(r)
            print(
                f"throughput, {r['subscriptions']} subscriptions ({args.clients} clients x "
                f"{len(symbols)} symbols): {r['changes_per_s']:.0f} price changes/s -> "
                f"{r['messages_per_s']:.0f} quote messages/s delivered "
                f"({r['messages_per_client_s']:.0f}/s per client)"
            )
        print(
            f"throughput median of {args.repeats} runs: "
            f"{statistics.median(r['messages_per_s'] for r in rates):.0f} messages/s at "
            f"{statistics.median(r['changes_per_s'] for r in rates):.0f} changes/s"
        )
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        gw.stop()


if __name__ == "__main__":
    main()
