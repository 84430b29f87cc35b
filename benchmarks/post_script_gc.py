"""``runner.postScriptGC`` on vs off: server memory (RSS) and CPU over a few minutes.

The worst case for the setting: 100 symbols streaming, one tab on Market data with the
live stream blocked, so the quotes fragment reruns every second (each run followed, with
the option on, by Streamlit's ``gc.collect(2)``), plus the sidebar's status fragment.
RSS of the streamlit process sampled every 5 s (/proc).

    python -m benchmarks.post_script_gc [--minutes 3]   # writes results/post_script_gc.md
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from benchmarks.common import (
    RESULTS,
    DashboardServer,
    proc_cpu_seconds,
    proc_rss_mib,
    save_raw,
    symbols_for,
)
from benchmarks.push_vs_fragment import browser, open_tab

NAME = "post_script_gc"


def measure(gc_on: bool, minutes: float) -> dict[str, Any]:
    from ibkr_core.simulator import SimConfig, start_in_background

    symbols = symbols_for(100)  # before the gateway starts: it lists the extra symbols
    gw = start_in_background(seed=5, port=0, config=SimConfig())
    try:
        label = f"gc-{'on' if gc_on else 'off'}"
        with (
            DashboardServer(gw.port, symbols, post_script_gc=gc_on, label=label) as srv,
            browser() as b,
        ):
            context, _page = open_tab(b, srv.url, push=False)
            try:
                time.sleep(5.0)
                samples = []
                c0, t0 = proc_cpu_seconds(srv.pid), time.monotonic()
                end = t0 + 60 * minutes
                while time.monotonic() < end:
                    samples.append(proc_rss_mib(srv.pid))
                    time.sleep(5.0)
                cpu = (proc_cpu_seconds(srv.pid) - c0) / (time.monotonic() - t0)
            finally:
                context.close()
    finally:
        gw.stop()
    return {
        "post_script_gc": gc_on,
        "minutes": minutes,
        "rss_mib_start": samples[0],
        "rss_mib_end": samples[-1],
        "rss_mib_max": max(samples),
        "cpu_s_per_s": cpu,
        "samples": samples,
    }


def render(result: dict[str, Any]) -> str:
    lines = [
        "# runner.postScriptGC: memory and CPU either way",
        "",
        "100 symbols streaming, one Market data tab on the fragment refresh (1 s), "
        f"{result['runs'][0]['minutes']:g} min each.",
        "",
        "| postScriptGC | RSS start | RSS end | RSS max | server CPU s/s |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in result["runs"]:
        lines.append(
            f"| {str(r['post_script_gc']).lower()} | {r['rss_mib_start']:.0f} MiB "
            f"| {r['rss_mib_end']:.0f} MiB | {r['rss_mib_max']:.0f} MiB "
            f"| {r['cpu_s_per_s']:.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.post_script_gc")
    parser.add_argument("--minutes", type=float, default=3.0)
    args = parser.parse_args(argv)
    result = {"runs": [measure(True, args.minutes), measure(False, args.minutes)]}
    save_raw(NAME, result)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{NAME}.md").write_text(render(result) + "\n")
    (RESULTS / f"{NAME}.json").write_text(json.dumps(result, indent=1))
    print(render(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
