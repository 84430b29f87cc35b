"""Load on the quote path: simulated gateway (own process) -> ib_async -> market-data
registry -> QuoteManager snapshot, 100 lines, at rising tick rates: IBKR's stock rate
(one snapshot every 250 ms) up to 20x (12.5 ms).

The gateway process (benchmarks/gateway_proc.py) streams 99 stocks plus ZCLK, whose
price encodes the gateway's clock at each market step and is sent after that step's
other ticks. This process takes a ``QuoteManager.get_quotes`` snapshot of all 100 every
100 ms, as pages do, and computes the snapshot lag = now - the gateway time in ZCLK.
At a rate the path sustains the lag stays within about one tick interval; past it,
messages queue up (socket buffers, ib_async's decoder) and the lag grows during the run.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from benchmarks.common import (
    CLOCK_SYMBOL,
    base_symbols,
    gateway_process,
    median,
    percentile,
    save_raw,
    symbols_for,
)
from benchmarks.gateway_proc import decode_clock

NAME = "quote_load"
TITLE = "Quote path under load"
IBKR_RATE = 0.25
INTERVALS = (0.25, 0.125, 0.0625, 0.025, 0.0125)  # 1x .. 20x IBKR's stock rate
BEYOND = (0.005, 0.0025, 0.0)  # 50x, 100x and flat out: to find the knee if 20x holds
SAMPLE_EVERY = 0.1


def measure(tick_interval: float, seconds: float, warmup: float = 3.0) -> dict[str, Any]:
    import psutil

    from ibkr_core.connection import IBKRConnection
    from ibkr_core.ibkr_market_data import IBKRQuoteProvider, market_data
    from ibkr_core.quote_manager import QuoteManager
    from ibkr_core.settings import Settings

    symbols = [*symbols_for(99), CLOCK_SYMBOL]
    extra = max(0, 99 - len(base_symbols()))
    with gateway_process(tick_interval, extra=extra, clock=True) as gw_proc:
        port = gw_proc.port
        settings = Settings(port=port, client_id=401, alphavantage_api_key="")
        conn = IBKRConnection(settings, auto_reconnect=False)
        market_data(conn).max_lines = 100
        provider = IBKRQuoteProvider(conn)
        manager = QuoteManager([], settings, ibkr=provider)
        try:
            status = conn.connect("127.0.0.1", port, 401, timeout=10)
            if not status.connected:
                raise RuntimeError(f"quote load: connect failed: {status.last_error}")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                quotes = manager.get_quotes(symbols)
                if all(q.ok and q.last is not None for q in quotes.values()):
                    break
                time.sleep(0.2)
            time.sleep(warmup)
            me, gw = psutil.Process(), psutil.Process(gw_proc.pid)
            cpu_me0, cpu_gw0 = sum(me.cpu_times()[:2]), sum(gw.cpu_times()[:2])
            msgs0 = conn.ib.client._numMsgRecv
            t_start = time.time()
            lags: list[tuple[float, float]] = []
            snapshot_ms: list[float] = []
            clock_values: set[float] = set()
            while time.time() - t_start < seconds:
                s0 = time.perf_counter()
                quotes = manager.get_quotes(symbols)
                snapshot_ms.append(1000 * (time.perf_counter() - s0))
                now = time.time()
                clock = quotes[CLOCK_SYMBOL].last
                if clock is not None:
                    clock_values.add(clock)
                    lags.append((now - t_start, now - decode_clock(clock, now)))
                time.sleep(max(0.0, SAMPLE_EVERY - (time.perf_counter() - s0)))
            elapsed = time.time() - t_start
            cpu_me = (sum(me.cpu_times()[:2]) - cpu_me0) / elapsed
            cpu_gw = (sum(gw.cpu_times()[:2]) - cpu_gw0) / elapsed
            msgs = (conn.ib.client._numMsgRecv - msgs0) / elapsed
        finally:
            conn.close()
            manager.close()
    values = [lag for _, lag in lags]
    third = max(1, len(values) // 3)
    first, last = values[:third], values[-third:]
    return {
        "tick_interval": tick_interval,
        "x_ibkr": IBKR_RATE / tick_interval if tick_interval else float("inf"),
        "seconds": elapsed,
        "lag_ms_p50": 1000 * median(values),
        "lag_ms_p95": 1000 * percentile(values, 95),
        "lag_ms_max": 1000 * max(values) if values else float("nan"),
        "lag_growth_ms": 1000 * (median(last) - median(first)),
        "snapshot_ms_p50": median(snapshot_ms),
        "msgs_per_s": msgs,
        "quote_path_cpu": cpu_me,
        "gateway_cpu": cpu_gw,
        "lag_series": lags,
        "gateway_steps_per_s": gw_proc.steps_per_s,
        "target_steps_per_s": 1 / tick_interval if tick_interval else None,
        "distinct_clock_values": len(clock_values),
    }


def behind(m: dict[str, Any]) -> bool:
    """Falling behind: the lag keeps growing, or sits above two tick intervals + 50 ms."""
    return m["lag_growth_ms"] > 100 or m["lag_ms_p50"] > 2000 * m["tick_interval"] + 50


def run(quick: bool) -> dict[str, Any]:
    repeats, seconds = (1, 6.0) if quick else (2, 15.0)
    intervals = list(INTERVALS)
    runs = [measure(t, seconds) for _ in range(repeats) for t in intervals]
    for t in BEYOND:  # only while it keeps up: stop at the first rate it cannot hold
        if any(behind(r) for r in runs):
            break
        intervals.append(t)
        runs += [measure(t, seconds) for _ in range(repeats)]
    rows = []
    for t in intervals:
        mine = [r for r in runs if r["tick_interval"] == t]
        keys = [k for k, v in mine[0].items() if isinstance(v, float | int) and v is not None]
        row = {k: statistics.median(r[k] for r in mine) for k in keys}
        row["behind"] = sum(behind(r) for r in mine) > len(mine) / 2
        rows.append(row)
    knee = next((r for r in rows if r["behind"]), None)
    result = {
        "symbols": 100,
        "repeats": repeats,
        "seconds": seconds,
        "rows": rows,
        "knee_x": knee["x_ibkr"] if knee else None,
        "series": {str(r["tick_interval"]): r["lag_series"] for r in runs},
    }
    save_raw(NAME, {**result, "runs": runs})
    return result


def render(result: dict[str, Any], plots: Any) -> str:
    lines = [
        f"{result['symbols']} lines (99 stocks + the clock line), gateway in its own process; "
        f"{result['seconds']:.0f} s per rate after warm-up, snapshot every "
        f"{1000 * SAMPLE_EVERY:.0f} ms, median of {result['repeats']} run(s). CPU is "
        "CPU-seconds per second (100% = one of the 2 cores).",
        "",
        "| tick interval | × IBKR rate | gateway steps/s | msgs/s received | snapshot lag p50 "
        "| p95 | growth over run | get_quotes p50 | quote-path CPU | gateway CPU | keeps up? |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in result["rows"]:
        interval = f"{1000 * r['tick_interval']:.1f} ms" if r["tick_interval"] else "0 (flat out)"
        steps = r.get("gateway_steps_per_s")
        steps_text = f"{steps:.0f}" if steps else "?"
        x = f"{r['x_ibkr']:.0f}x" if r["tick_interval"] else f"≈{(steps or 0) / 4:.0f}x achieved"
        lines.append(
            f"| {interval} | {x} | {steps_text} | {r['msgs_per_s']:,.0f} "
            f"| {r['lag_ms_p50']:.0f} ms | {r['lag_ms_p95']:.0f} ms "
            f"| {r['lag_growth_ms']:+.0f} ms | {r['snapshot_ms_p50']:.1f} ms "
            f"| {100 * r['quote_path_cpu']:.0f}% | {100 * r['gateway_cpu']:.0f}% "
            f"| {'**no**' if r['behind'] else 'yes'} |"
        )
    knee = result["knee_x"]
    lines += [
        "",
        f"**Falls behind from {knee:.0f}x IBKR's stock rate**"
        if knee
        else "**Keeps up at every rate tried**",
        "(falling behind = the lag grows by more than 100 ms over the run, or its median "
        "exceeds two tick intervals + 50 ms). Gateway steps/s below the target means the "
        "simulated gateway itself (pure Python, one loop) could not produce ticks faster: "
        "past ~20x the producer, not the quote path, is the limit.",
    ]
    plot = plots.quote_load(result)
    if plot:
        lines += ["", f"![quote path lag]({plot})"]
    return "\n".join(lines)
