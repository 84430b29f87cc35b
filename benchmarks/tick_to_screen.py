"""Tick to screen: from the instant the simulated gateway moves a price to the instant
the new value is in the dashboard's quotes table in Chromium; side by side, the instant
an ``ib_async`` client in this process sees the same tick (the floor).

The gateway runs in this process; ``gw.set_price`` pushes the new price at once, and
``time.time()`` just before it is t0. One symbol (AAPL, the table's first row) is frozen
so that only ``set_price`` moves it. In the page, a MutationObserver records
``Date.now()`` each time that row's Last cell changes (same machine clock). After each
change the next one waits a random 0..refresh_interval so changes land at every phase of
the page's refresh timer.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from typing import Any

from benchmarks.common import (
    DashboardServer,
    chromium_page,
    post_script_gc_env,
    save_raw,
    summary,
    symbols_for,
)

NAME = "tick_to_screen"
TITLE = "Tick to screen"
TARGET = "AAPL"

WATCHER_JS = """
(symbol) => {
  window.__changes = [];
  let last = null;
  const scan = () => {
    const rows = document.querySelectorAll('[data-testid="stDataFrame"] table[role="grid"] tr');
    for (const tr of rows) {
      const cells = tr.children;
      if (cells.length > 1 && cells[0].textContent === symbol) {
        const text = cells[1].textContent;
        if (text !== last) { last = text; window.__changes.push([text, Date.now()]); }
        return;
      }
    }
  };
  new MutationObserver(scan).observe(document.body,
    {subtree: true, childList: true, characterData: true});
  scan();
}
"""


class FloorClient:
    """An ib_async client on its own thread and loop: when did it see each last price?"""

    def __init__(self, port: int, symbol: str) -> None:
        self.port = port
        self.symbol = symbol
        self.seen: list[tuple[float, float]] = []  # (time.time(), last)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="floor-client", daemon=True)
        self.error: BaseException | None = None

    def __enter__(self) -> FloorClient:
        self._thread.start()
        if not self._ready.wait(20):
            raise TimeoutError("floor client did not connect")
        if self.error:
            raise self.error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._run())
        self._loop.close()

    async def _run(self) -> None:
        from ib_async import IB, Stock

        ib = IB()
        self._stop = asyncio.Event()
        try:
            await ib.connectAsync("127.0.0.1", self.port, clientId=901, timeout=10)
            [contract] = await ib.qualifyContractsAsync(Stock(self.symbol, "SMART", "USD"))
            ticker = ib.reqMktData(contract)

            def on_update(t: Any) -> None:
                self.seen.append((time.time(), t.last))

            ticker.updateEvent += on_update
        except BaseException as exc:  # reported to __enter__
            self.error = exc
            self._ready.set()
            ib.disconnect()
            return
        self._ready.set()
        await self._stop.wait()
        ib.disconnect()

    def first_seen(self, price: float, after: float) -> float | None:
        for stamp, last in list(self.seen):
            if stamp >= after and last is not None and abs(last - price) < 1e-6:
                return stamp
        return None


def _as_number(text: str) -> float | None:
    try:
        return float(text.replace(",", "").replace("$", ""))
    except ValueError:
        return None


def wait_screen(page: Any, price: float, after: float, timeout: float) -> float | None:
    """When the watched cell first showed ``price`` at or after ``after`` (epoch s), as the
    page itself stamped it (so how often we poll does not change the figure).

    Compared as numbers: the grid's accessible text may be the raw value ("192.6")
    rather than the formatted one ("192.60")."""
    deadline = time.monotonic() + timeout
    while True:
        for value, stamp in page.evaluate("() => window.__changes"):
            number = _as_number(value)
            if number is not None and abs(number - price) < 0.005 and stamp / 1000 >= after - 0.002:
                return stamp / 1000.0
        if time.monotonic() >= deadline:
            return None
        page.wait_for_timeout(10)


def measure(
    n_symbols: int, changes: int, seed: int = 11, post_script_gc: bool | None = None
) -> dict[str, Any]:
    from ibkr_core.settings import Settings
    from ibkr_core.simulator import SimConfig, start_in_background

    symbols = symbols_for(n_symbols)
    refresh = Settings.load().refresh_interval
    rng = random.Random(seed)
    gw = start_in_background(seed=5, port=0, config=SimConfig())
    samples: list[dict[str, Any]] = []
    try:
        gw.stop_ticks(TARGET)
        with (
            DashboardServer(
                gw.port, symbols, label=f"t2s-{n_symbols}", post_script_gc=post_script_gc
            ) as server,
            FloorClient(gw.port, TARGET) as floor,
            chromium_page() as page,
        ):
            page.goto(f"{server.url}/market_data")
            page.wait_for_selector(
                '[data-testid="stDataFrame"] table[role="grid"]', state="attached", timeout=60000
            )
            page.wait_for_function(
                """(s) => [...document.querySelectorAll(
                     '[data-testid="stDataFrame"] table[role="grid"] tr')]
                     .some(tr => tr.children[0] && tr.children[0].textContent === s
                           && /\\d/.test(tr.children[1].textContent))""",
                arg=TARGET,
                timeout=60000,
            )
            page.evaluate(WATCHER_JS, TARGET)
            time.sleep(2.0)  # let every line stream before timing
            price = gw.quote(TARGET).last
            for i in range(changes):
                new = price
                while abs(new - price) < 0.05:
                    new = round(rng.uniform(180.0, 260.0), 2)
                price = new
                t0 = time.time()
                gw.set_price(TARGET, price)
                seen_screen = wait_screen(page, price, t0, timeout=15.0)
                seen_floor = floor.first_seen(price, t0)
                samples.append(
                    {
                        "i": i,
                        "t0": t0,
                        "price": price,
                        "screen_ms": None if seen_screen is None else 1000 * (seen_screen - t0),
                        "floor_ms": None if seen_floor is None else 1000 * (seen_floor - t0),
                    }
                )
                time.sleep(rng.uniform(0.0, refresh))
    finally:
        gw.stop()
    screen = [s["screen_ms"] for s in samples if s["screen_ms"] is not None]
    floor_ms = [s["floor_ms"] for s in samples if s["floor_ms"] is not None]
    return {
        "symbols": n_symbols,
        "changes": changes,
        "post_script_gc": post_script_gc,
        "refresh_interval": refresh,
        "screen_ms": summary(screen),
        "floor_ms": summary(floor_ms),
        "missed": sum(1 for s in samples if s["screen_ms"] is None),
        "samples": samples,
    }


def run(quick: bool) -> dict[str, Any]:
    changes = 25 if quick else 120
    gc = post_script_gc_env()  # BENCH_POST_SCRIPT_GC=false: post-run gc.collect(2) off
    result = {
        "runs": [measure(10, changes, post_script_gc=gc), measure(100, changes, post_script_gc=gc)]
    }
    save_raw(NAME, result)
    return result


def render(result: dict[str, Any], plots: Any) -> str:
    first = result["runs"][0]
    lines = [
        f"Market data page, refresh interval {first['refresh_interval']:g} s (the default). "
        "Delay from `gw.set_price` to the new Last price in Chromium's DOM; the next change "
        "waits a random 0–1 interval so changes land at every phase of the refresh timer. "
        "The floor: an `ib_async` client in the benchmark process, same gateway, same "
        "changes, timed at its ticker update.",
        "",
        "| symbols streaming | changes | tick→screen p50 | p95 | max | ib_async floor p50 "
        "| p95 | max | missed |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["runs"]:
        s, f = r["screen_ms"], r["floor_ms"]
        gc = " (postScriptGC=false)" if r.get("post_script_gc") is False else ""
        lines.append(
            f"| {r['symbols']}{gc} | {r['changes']} | {s['p50']:.0f} ms | {s['p95']:.0f} ms "
            f"| {s['max']:.0f} ms | {f['p50']:.2f} ms | {f['p95']:.2f} ms | {f['max']:.2f} ms "
            f"| {r['missed']} |"
        )
    plot = plots.tick_to_screen(result)
    text = "\n".join(lines)
    if plot:
        text += f"\n\n![tick to screen]({plot})"
    return text
