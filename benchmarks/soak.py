"""Soak: the dashboard with Chromium on the Market data page as it ships (the live
component's push board over ``/api/live``), 10 symbols, for 30 minutes (``--quick``: 3).
The server process's RSS, thread count and CPU are sampled throughout. In the middle the
gateway goes down for 10 s (``refuse_connections``: every client dropped, connections
refused); the report gives the time until the app reconnected and until a new price
reached the screen. Every probe interval a price change on the frozen first row measures
tick-to-screen.
"""

from __future__ import annotations

import os
import time
from typing import Any

from benchmarks.common import (
    DashboardServer,
    chromium_page,
    post_script_gc_env,
    save_raw,
    symbols_for,
)
from benchmarks.push_vs_fragment import BOARD_READY_JS, BOARD_WATCHER_JS
from benchmarks.tick_to_screen import TARGET, wait_screen

NAME = "soak"
TITLE = "Soak"
OUTAGE_S = 10.0


def run(quick: bool) -> dict[str, Any]:
    import psutil

    from ibkr_core.simulator import SimConfig, start_in_background

    duration = float(os.environ.get("BENCH_SOAK_SECONDS") or (180 if quick else 1800))
    sample_every = 2.0 if quick else 10.0
    probe_every = 10.0 if quick else 30.0
    symbols = symbols_for(10)
    gw = start_in_background(seed=9, port=0, config=SimConfig())
    samples: list[dict[str, Any]] = []
    probes: list[dict[str, Any]] = []
    outage: dict[str, Any] = {}
    price = 200.0
    try:
        gw.stop_ticks(TARGET)
        with (
            DashboardServer(
                gw.port, symbols, label="soak", post_script_gc=post_script_gc_env()
            ) as server,
            chromium_page() as page,
        ):
            proc = psutil.Process(server.pid)
            page.goto(f"{server.url}/market_data")
            page.wait_for_function(BOARD_READY_JS, arg=TARGET, timeout=90000)
            page.evaluate(BOARD_WATCHER_JS, TARGET)
            start = time.time()
            next_sample = next_probe = start
            cpu_prev, t_prev = sum(proc.cpu_times()[:2]), start
            while (now := time.time()) - start < duration:
                phase = outage.get("phase")
                if phase is None and now - start >= duration / 2:
                    outage.update(t=now - start, t_down=now, phase="down")
                    gw.refuse_connections(OUTAGE_S)
                elif phase == "down" and gw.client_count() > 0:
                    outage["reconnected_s"] = now - outage["t_down"]
                    price = round(price + 1.37, 2)
                    outage.update(phase="probe", price=price, t_probe=time.time())
                    gw.set_price(TARGET, price)
                elif phase == "probe":
                    seen = wait_screen(page, outage["price"], outage["t_probe"], timeout=0)
                    if seen is not None or now - outage["t_probe"] > 60:
                        outage["screen_s"] = None if seen is None else seen - outage["t_down"]
                        outage["phase"] = "done"
                if now >= next_sample:
                    cpu = sum(proc.cpu_times()[:2])
                    samples.append(
                        {
                            "t": now - start,
                            "rss_mib": proc.memory_info().rss / 2**20,
                            "threads": proc.num_threads(),
                            "cpu": (cpu - cpu_prev) / max(1e-6, now - t_prev),
                        }
                    )
                    cpu_prev, t_prev = cpu, now
                    next_sample = max(next_sample + sample_every, now)
                if now >= next_probe and outage.get("phase") in (None, "done"):
                    price = round(price + 0.73 if price < 250 else 190.0, 2)
                    t0 = time.time()
                    gw.set_price(TARGET, price)
                    seen = wait_screen(page, price, t0, timeout=15)
                    probes.append(
                        {"t": t0 - start, "screen_ms": None if seen is None else 1000 * (seen - t0)}
                    )
                    next_probe = max(next_probe + probe_every, time.time())
                time.sleep(0.2)
    finally:
        gw.stop()
    rss = [s["rss_mib"] for s in samples]
    threads = [s["threads"] for s in samples]
    tail = max(1, len(samples) // 10)
    result = {
        "duration_s": duration,
        "post_script_gc": post_script_gc_env(),
        "symbols": len(symbols),
        "samples": samples,
        "probes": probes,
        "outage": {**outage, "length_s": OUTAGE_S},
        "rss_start_mib": rss[0] if rss else None,
        "rss_end_mib": rss[-1] if rss else None,
        "rss_max_mib": max(rss) if rss else None,
        "rss_first10pct_mib": sum(rss[:tail]) / tail if rss else None,
        "rss_last10pct_mib": sum(rss[-tail:]) / tail if rss else None,
        "threads_start": threads[0] if threads else None,
        "threads_end": threads[-1] if threads else None,
        "threads_max": max(threads) if threads else None,
        "probe_misses": sum(1 for p in probes if p["screen_ms"] is None),
    }
    save_raw(NAME, result)
    return result


def render(result: dict[str, Any], plots: Any) -> str:
    from benchmarks.common import summary

    o = result["outage"]
    probe = summary([p["screen_ms"] for p in result["probes"] if p["screen_ms"] is not None])
    screen = f"{o['screen_s']:.1f} s" if o.get("screen_s") is not None else "never"
    lines = [
        f"{result['duration_s'] / 60:.0f} min, {result['symbols']} symbols, one Chromium tab on "
        "Market data (push board over /api/live)"
        + (", `runner.postScriptGC=false`" if result.get("post_script_gc") is False else "")
        + ". Server process (psutil):",
        "",
        "| | start | end | max | mean of first 10% | mean of last 10% |",
        "|---|---:|---:|---:|---:|---:|",
        f"| RSS | {result['rss_start_mib']:.0f} MiB | {result['rss_end_mib']:.0f} MiB "
        f"| {result['rss_max_mib']:.0f} MiB | {result['rss_first10pct_mib']:.0f} MiB "
        f"| {result['rss_last10pct_mib']:.0f} MiB |",
        f"| threads | {result['threads_start']} | {result['threads_end']} "
        f"| {result['threads_max']} | | |",
        "",
        f"Gateway outage at {o.get('t', 0) / 60:.1f} min for {o['length_s']:.0f} s: the app "
        f"reconnected {o.get('reconnected_s', float('nan')):.1f} s after the drop; a new price "
        f"was on screen {screen} after the drop.",
        f"Tick-to-screen probes during the soak: {probe['n']} (missed "
        f"{result['probe_misses']}), p50 {probe['p50']:.0f} ms, p95 {probe['p95']:.0f} ms, "
        f"max {probe['max']:.0f} ms.",
    ]
    plot = plots.soak(result)
    if plot:
        lines += ["", f"![soak]({plot})"]
    return "\n".join(lines)
