"""Refresh cost: server CPU and wall time per refresh of the live quotes view, 100
symbols, the app as shipped (``st.fragment(run_every=...)`` reruns only the table) against
a whole-script timer rerun of the same page, in one run; a third variant is the fragment
with Streamlit's post-run ``gc.collect(2)`` switched off (``runner.postScriptGC=false``).

For each variant: start the dashboard (benchmarks/app_support.py), open the Market data
page in Chromium, warm up, then over a window count the refreshes (timing records
written by the wrapper) and the server process's CPU time (psutil). Then the page is
closed and the same window measures the idle baseline (connected, 100 lines streaming,
nobody looking), which is subtracted: CPU per refresh = (busy - idle) / refreshes.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import DashboardServer, chromium_page, median, save_raw, symbols_for

NAME = "refresh_cost"
TITLE = "Refresh cost: partial (st.fragment) vs whole-script rerun"

VARIANTS = {
    "fragment": {"mode": "fragment", "post_script_gc": None},
    "whole": {"mode": "whole", "post_script_gc": None},
    "fragment, postScriptGC=false": {"mode": "fragment", "post_script_gc": False},
    "whole, postScriptGC=false": {"mode": "whole", "post_script_gc": False},
}


def _cpu(proc: Any) -> float:
    t = proc.cpu_times()
    return t.user + t.system


def _records(path: Path, start: float, end: float) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        if start <= rec["t"] <= end:
            out.append(rec)
    return out


def measure_variant(
    name: str, gateway_port: int, symbols: list[str], window: float, warmup: float
) -> dict[str, Any]:
    import psutil

    spec = VARIANTS[name]
    with tempfile.TemporaryDirectory(prefix="bench-timing-") as tmp:
        timing = Path(tmp) / "timing.jsonl"
        label = "refresh-" + spec["mode"] + ("-nogc" if spec["post_script_gc"] is False else "")
        label += "-" + str(int(time.time()))
        with DashboardServer(
            gateway_port,
            symbols,
            mode=spec["mode"],
            post_script_gc=spec["post_script_gc"],
            timing_file=timing,
            label=label,
        ) as server:
            proc = psutil.Process(server.pid)
            with chromium_page() as page:
                page.goto(f"{server.url}/market_data")
                page.wait_for_function(
                    """() => [...document.querySelectorAll(
                         '[data-testid="stDataFrame"] table[role="grid"] td')]
                         .some(td => td.textContent.includes('IBKR'))""",
                    timeout=90000,
                )
                time.sleep(warmup)
                t0, c0 = time.time(), _cpu(proc)
                time.sleep(window)
                t1, c1 = time.time(), _cpu(proc)
                page.goto("about:blank")
            time.sleep(3.0)  # the session closes; its timers stop
            b0, bc0 = time.time(), _cpu(proc)
            time.sleep(window / 2)
            b1, bc1 = time.time(), _cpu(proc)
            records = _records(timing, t0, t1)
    if spec["mode"] == "whole":
        runs = [r for r in records if r["kind"] == "whole"]
    else:
        runs = [r for r in records if r["kind"] == "fragment" and r["name"] == "quotes_table"]
    busy = (c1 - c0) / (t1 - t0)
    idle = (bc1 - bc0) / (b1 - b0)
    rate = len(runs) / (t1 - t0)
    return {
        "variant": name,
        "window_s": t1 - t0,
        "refreshes": len(runs),
        "refresh_rate_hz": rate,
        "server_cpu_busy": busy,  # CPU seconds per second (1.0 = one core)
        "server_cpu_idle": idle,
        "cpu_ms_per_refresh": 1000 * (busy - idle) / rate if rate else float("nan"),
        "script_wall_ms": median([1000 * r["wall"] for r in runs]),
        "script_cpu_ms": median([1000 * r["cpu"] for r in runs]),
        "other_fragment_runs": sum(1 for r in records if r["kind"] == "fragment")
        - (0 if spec["mode"] == "whole" else len(runs)),
    }


def run(quick: bool) -> dict[str, Any]:
    from ibkr_core.simulator import SimConfig, start_in_background

    symbols = symbols_for(100)
    repeats, window, warmup = (1, 15.0, 4.0) if quick else (2, 30.0, 6.0)
    gw = start_in_background(seed=5, port=0, config=SimConfig())
    runs: list[dict[str, Any]] = []
    try:
        for _ in range(repeats):
            for name in VARIANTS:
                runs.append(measure_variant(name, gw.port, symbols, window, warmup))
    finally:
        gw.stop()
    by_variant: dict[str, dict[str, float]] = {}
    for name in VARIANTS:
        mine = [r for r in runs if r["variant"] == name]
        by_variant[name] = {
            key: statistics.median(r[key] for r in mine)
            for key in (
                "refresh_rate_hz",
                "server_cpu_busy",
                "server_cpu_idle",
                "cpu_ms_per_refresh",
                "script_wall_ms",
                "script_cpu_ms",
            )
        }
    frag, whole = by_variant["fragment"], by_variant["whole"]
    frag_nogc = by_variant["fragment, postScriptGC=false"]
    whole_nogc = by_variant["whole, postScriptGC=false"]
    result = {
        "symbols": len(symbols),
        "repeats": repeats,
        "window_s": window,
        "runs": runs,
        "median": by_variant,
        "ratio_cpu_per_refresh": whole["cpu_ms_per_refresh"] / frag["cpu_ms_per_refresh"],
        "ratio_script_wall": whole["script_wall_ms"] / frag["script_wall_ms"],
        "ratio_cpu_per_refresh_nogc": whole_nogc["cpu_ms_per_refresh"]
        / frag_nogc["cpu_ms_per_refresh"],
        "ratio_live_cpu": (whole["server_cpu_busy"] - whole["server_cpu_idle"])
        / (frag["server_cpu_busy"] - frag["server_cpu_idle"]),
        "gc_share_fragment": 1 - frag_nogc["cpu_ms_per_refresh"] / frag["cpu_ms_per_refresh"],
    }
    save_raw(NAME, result)
    return result


def render(result: dict[str, Any], plots: Any) -> str:
    lines = [
        f"{result['symbols']} symbols; each variant measured over {result['window_s']:.0f} s "
        f"with a browser attached, {result['repeats']} run(s) each, medians shown. "
        "Server CPU is the whole `streamlit` process (psutil), including its ib_async "
        "loop thread; the idle baseline (same server, page closed, lines still streaming) "
        "is subtracted before dividing by the refreshes.",
        "",
        "| variant | refreshes/s | server CPU busy | idle baseline | CPU per refresh "
        "| script wall per refresh | script CPU per refresh |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in result["median"].items():
        lines.append(
            f"| {name} | {m['refresh_rate_hz']:.2f} | {100 * m['server_cpu_busy']:.0f}% "
            f"| {100 * m['server_cpu_idle']:.0f}% | {m['cpu_ms_per_refresh']:.0f} ms "
            f"| {m['script_wall_ms']:.0f} ms | {m['script_cpu_ms']:.0f} ms |"
        )
    lines += [
        "",
        f"**Whole-script rerun / fragment, as shipped (post-run GC on): "
        f"{result['ratio_cpu_per_refresh']:.2f}x the server CPU per quotes refresh, "
        f"{result['ratio_live_cpu']:.2f}x the server CPU per second of a live page, "
        f"{result['ratio_script_wall']:.1f}x the script wall time per refresh. With "
        f"`runner.postScriptGC=false`: {result['ratio_cpu_per_refresh_nogc']:.1f}x the CPU "
        "per refresh.**",
        "",
        f"Streamlit's `gc.collect(2)` after every run (fragment runs too) is "
        f"{100 * result['gc_share_fragment']:.0f}% of the fragment variant's CPU per refresh. "
        "In the fragment variant the sidebar's connection-status fragment (every 2 s, with its "
        "own post-run GC) is part of the cost; in the whole-script variant it is drawn inline "
        "by every full run. Script wall/CPU are the wrapper's timings of the quotes fragment "
        "(fragment variants) or of the whole script (whole variants), without the GC.",
    ]
    plot = plots.refresh_cost(result)
    if plot:
        lines += ["", f"![refresh cost]({plot})"]
    return "\n".join(lines)
