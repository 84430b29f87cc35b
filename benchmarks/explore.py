"""Explore with 10 instruments x 1Y of daily bars: the first render from an empty history
store against a render from the store, and the IBKR historical requests each issues.

    python -m benchmarks.explore             # 5 runs per variant, writes results/explore.md
    python -m benchmarks.explore --runs 3

Each run starts a fresh simulated IB Gateway (``ibkr_core/simulator``, real TWS protocol
on 127.0.0.1, fresh pacing counters) and fresh services on an empty store in a temporary
directory, connects to it as to any IBKR gateway (so no demo replay seeds the store),
then renders the Explore page with Streamlit's AppTest (the whole script: data, plotly
figures, tables, downloads): visit 1 (empty store), visit 2 (a new session, same
process: the store), and times ``history.daily`` alone for the ten symbols the same way.
Historical requests are counted at the gateway (its pacing log: every
reqHistoricalData it received). Variants: the simulator answering at once, and every
message delayed 250 ms (a remote gateway; real IBKR historical answers take longer still).
Yahoo is switched off: nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS, machine_info, save_raw

NAME = "explore"
SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "JPM", "XOM", "SPY", "QQQ"]
DELAYS = (0.0, 0.25)


def _block_yahoo() -> None:
    import yfinance

    class Offline:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise OSError("Yahoo is off in benchmarks (no network)")

    yfinance.Ticker = Offline  # type: ignore[misc,assignment]


def _historical_requests(gw: Any) -> int:
    return gw.call(lambda: len(gw.gateway.pacing._all))


def _render(at_cls: Any, app: str) -> tuple[float, Any]:
    at = at_cls.from_file(app, default_timeout=120)
    at.session_state["ex_typed"] = ", ".join(SYMBOLS)  # watchlist and positions first, then these
    at.session_state["ex_range"] = "1Y"
    at.switch_page("pages/explore.py")
    started = time.perf_counter()
    at.run()
    took = time.perf_counter() - started
    if at.exception:
        raise RuntimeError(at.exception)
    return took, at


def one_run(delay: float) -> dict[str, Any]:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from ibkr_core import services as services_module
    from ibkr_core.settings import Settings
    from ibkr_core.simulator import start_in_background

    root = Path(__file__).resolve().parent.parent
    app = str(root / "streamlit_app.py")
    gw = start_in_background(seed=7, port=0)
    tmp = tempfile.TemporaryDirectory(prefix="bench-explore-")
    try:
        gw.call(lambda: gw.gateway.set_response_delay(delay))
        settings = Settings(
            watchlist_file=str(Path(tmp.name) / "watchlist.json"),
            host=gw.host,
            port=gw.port,
            connect_timeout=10.0,
            request_timeout=10.0,
        )
        services_module.reset_services()
        st.cache_resource.clear()
        services = services_module.get_services(settings)
        assert services.connect().connected
        services.recorder.flush(30)
        before = _historical_requests(gw)
        first, at = _render(AppTest, app)
        after_first = _historical_requests(gw)
        rows = len(at.main.dataframe[0].value)
        second, _ = _render(AppTest, app)
        after_second = _historical_requests(gw)
        # a third visit once today's bar is older than the TTL: only the tail is asked for
        services.history._ttl = 0.0
        keys_before = set(gw.call(lambda: list(gw.gateway.pacing._by_request)))
        third, _ = _render(AppTest, app)
        after_third = _historical_requests(gw)
        new_keys = set(gw.call(lambda: list(gw.gateway.pacing._by_request))) - keys_before
        tail_durations = sorted({str(k).split(":")[2] for k in new_keys})
        services.history._ttl = settings.history_cache_ttl  # (a 4th ask would be a 162)
        # the data layer alone, from the store (the same 10 symbols, a year and a week)
        start = services.history.today() - timedelta(days=372)
        t = time.perf_counter()
        for s in SYMBOLS:
            services.history.daily(s, start)
        store_read = time.perf_counter() - t
        bars = sum(len(services.history.daily(s, start).frame) for s in SYMBOLS)
        return {
            "delay": delay,
            "first_render_s": first,
            "second_render_s": second,
            "requests_first": after_first - before,
            "requests_second": after_second - after_first,
            "third_render_s": third,
            "requests_third": after_third - after_second,
            "tail_durations": tail_durations,
            "store_read_10_s": store_read,
            "rows": rows,
            "bars": bars,
        }
    finally:
        services_module.reset_services()
        st.cache_resource.clear()
        gw.stop()
        tmp.cleanup()


def render(runs: list[dict[str, Any]], info: dict[str, Any]) -> str:
    lines = [
        "# Explore: first render from an empty store vs from the store",
        "",
        f"`python -m benchmarks.explore` on {info['cpu_model']}, {info['cores']} cores "
        f"(shared; load at start {', '.join(f'{x:.2f}' for x in info['load_average_at_start'])}"
        f"), Python {info['python']}, streamlit {info['streamlit']}.",
        "",
        f"10 instruments ({', '.join(SYMBOLS)}), range 1Y (a year and a week of daily bars "
        "is loaded for the returns by period), benchmark SPY. A render is one AppTest run "
        "of the whole Explore page. Each run: a fresh simulated gateway and an empty store.",
        "",
        "| gateway answers | runs | first render (empty store), median | second visit "
        "(store), median | ratio | IBKR historical requests, 1st visit | 2nd visit | "
        "`history.daily` x10 from the store, median |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for delay in DELAYS:
        rs = [r for r in runs if r["delay"] == delay]
        if not rs:
            continue
        first = statistics.median(r["first_render_s"] for r in rs)
        second = statistics.median(r["second_render_s"] for r in rs)
        read = statistics.median(r["store_read_10_s"] for r in rs)
        req1 = sorted({r["requests_first"] for r in rs})
        req2 = sorted({r["requests_second"] for r in rs})
        label = "at once" if delay == 0 else f"+{delay * 1000:.0f} ms per message"
        lines.append(
            f"| {label} | {len(rs)} | {first:.2f} s | {second:.2f} s | {first / second:.1f}x | "
            f"{', '.join(map(str, req1))} | {', '.join(map(str, req2))} | {read * 1000:.0f} ms |"
        )
    lines += [
        "",
        "All runs:",
        "",
        "| gateway delay | first render | second render | third (TTL expired) | "
        "requests 1st / 2nd / 3rd | durations asked on the 3rd | daily bars read |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r['delay'] * 1000:.0f} ms | {r['first_render_s']:.2f} s | "
            f"{r['second_render_s']:.2f} s | {r['third_render_s']:.2f} s | "
            f"{r['requests_first']} / {r['requests_second']} / {r['requests_third']} | "
            f"{', '.join(r['tail_durations']) or '-'} | {r['bars']} |"
        )
    lines += [
        "",
        'Reading: the first visit asks IBKR once per instrument (a "2 Y" daily request: '
        '372 days is over the 365 a "D" duration may span); the second visit asks nothing, '
        "as long as the store covers the range and today's bar was fetched within "
        "`history_cache_ttl` (afterwards only the tail from the last stored day is asked "
        "for: the third visit, with the TTL set to 0, asks each instrument for its last "
        "stored day to today only). What remains of the second render is the page "
        "itself: statistics, three plotly panels, the heatmap, tables and the CSV/Parquet "
        "payloads of every download button.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING)
    _block_yahoo()
    info = machine_info()
    runs = []
    for delay in DELAYS:
        for i in range(args.runs):
            r = one_run(delay)
            runs.append(r)
            print(
                f"delay {delay:.2f} run {i + 1}: first {r['first_render_s']:.2f} s "
                f"({r['requests_first']} req), second {r['second_render_s']:.2f} s "
                f"({r['requests_second']} req)",
                flush=True,
            )
    save_raw(NAME, {"runs": runs, "machine": info})
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "explore.md").write_text(render(runs, info))
    print(f"wrote {RESULTS / 'explore.md'}")


if __name__ == "__main__":
    main()
