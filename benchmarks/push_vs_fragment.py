"""Push vs fragment vs whole-page timer, one run, side by side.

The dashboard as shipped (``streamlit run`` of the one-process ``st.App``), 10 and 100
symbols streaming from the simulated gateway, three ways the Market data quotes reach
the browser:

- **push**: the live component's WebSocket (``/api/live``) patches the board in place;
- **fragment**: the same server with ``/api/live`` blocked in the browser (a proxy that
  drops WebSockets): the page falls back to ``st.fragment(run_every=refresh_interval)``;
- **whole**: every fragment a plain function, the whole page rerun by the real
  ``streamlit-autorefresh`` component every ``refresh_interval`` (push blocked too).

Measured: tick→screen (``gw.set_price`` → the new Last price in Chromium's DOM, seen by a
MutationObserver; same clock) p50/p95/max, with the ``ib_async`` floor (a client in this
process, same ticks); and the server process's CPU seconds per second with 1 and 5 tabs
open on Market data with 100 symbols (/proc, minus the idle baseline with no tab).

    python -m benchmarks.push_vs_fragment [--quick]   # writes results/push_vs_fragment.md
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import time
from collections.abc import Iterator
from typing import Any

from benchmarks.common import (
    CHROMIUM,
    CHROMIUM_ARGS,
    RESULTS,
    DashboardServer,
    proc_cpu_seconds,
    save_raw,
    summary,
    symbols_for,
)
from benchmarks.tick_to_screen import TARGET, WATCHER_JS, FloorClient, wait_screen

NAME = "push_vs_fragment"
TITLE = "Push vs fragment vs whole-page timer (streamlit-autorefresh)"

# The live board's Last cell of the target row, inside the component's shadow root.
# The live board's Last cell of the target row, inside the component's shadow root. A
# rerun may draw the component afresh (e.g. after a reconnect): every 0.5 s the watcher
# checks its cell is still in the page and follows the new one.
BOARD_WATCHER_JS = """
(symbol) => {
  window.__changes = [];
  let last = null, cell = null, observer = null;
  const find = () => {
    for (const el of document.querySelectorAll('*')) {
      const td = el.shadowRoot && el.shadowRoot.querySelector(
        `.ibkr-live[data-mode="board"] tr[data-symbol="${symbol}"] td.c-last`);
      if (td) return [el.shadowRoot, td];
    }
    return [null, null];
  };
  const scan = () => {
    const text = cell ? cell.textContent : null;
    if (text !== null && text !== last) {
      last = text; window.__changes.push([text, Date.now()]);
    }
  };
  const attach = () => {
    if (cell && cell.isConnected) return;
    const [root, td] = find();
    if (!td) return;
    if (observer) observer.disconnect();
    cell = td;
    observer = new MutationObserver(scan);
    observer.observe(root, {subtree: true, childList: true, characterData: true});
    scan();
  };
  attach();
  setInterval(attach, 500);
}
"""

BOARD_READY_JS = """
(symbol) => [...document.querySelectorAll('*')].some(el => el.shadowRoot &&
  /\\d/.test((el.shadowRoot.querySelector(
    `.ibkr-live[data-mode="board"] tr[data-symbol="${symbol}"] td.c-last`) || {}).textContent
    || ''))
"""

GRID_READY_JS = """
(s) => [...document.querySelectorAll('[data-testid="stDataFrame"] table[role="grid"] tr')]
  .some(tr => tr.children[0] && tr.children[0].textContent === s
        && /\\d/.test(tr.children[1].textContent))
"""


@contextlib.contextmanager
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def open_tab(b: Any, url: str, push: bool) -> tuple[Any, Any]:
    """A Market data tab (own context); ``push=False`` blocks the live stream."""
    context = b.new_context(viewport={"width": 1400, "height": 1000})
    if not push:
        context.route_web_socket("**/api/live", lambda ws: ws.close())
    page = context.new_page()
    page.goto(f"{url}/market_data")
    ready = BOARD_READY_JS if push else GRID_READY_JS
    page.wait_for_function(ready, arg=TARGET, timeout=60_000)
    return context, page


def tick_to_screen(
    b: Any, server: DashboardServer, gw: Any, floor: FloorClient, push: bool, changes: int
) -> dict[str, Any]:
    rng = random.Random(11)
    context, page = open_tab(b, server.url, push)
    try:
        page.evaluate(BOARD_WATCHER_JS if push else WATCHER_JS, TARGET)
        time.sleep(2.0)
        price = gw.quote(TARGET).last
        screen, floor_ms, missed = [], [], 0
        for _ in range(changes):
            new = price
            while abs(new - price) < 0.05:
                new = round(rng.uniform(180.0, 260.0), 2)
            price = new
            t0 = time.time()
            gw.set_price(TARGET, price)
            seen = wait_screen(page, price, t0, timeout=15.0)
            at_floor = floor.first_seen(price, t0)
            if seen is None:
                missed += 1
            else:
                screen.append(1000 * (seen - t0))
            if at_floor is not None:
                floor_ms.append(1000 * (at_floor - t0))
            time.sleep(rng.uniform(0.0, 1.0))
        return {"screen_ms": summary(screen), "floor_ms": summary(floor_ms), "missed": missed}
    finally:
        context.close()


def cpu_per_second(
    b: Any, server: DashboardServer, push: bool, tabs: int, window: float
) -> dict[str, Any]:
    opened = [open_tab(b, server.url, push) for _ in range(tabs)]
    try:
        time.sleep(5.0)  # warm up
        c0, t0 = proc_cpu_seconds(server.pid), time.monotonic()
        time.sleep(window)
        c1, t1 = proc_cpu_seconds(server.pid), time.monotonic()
        return {"tabs": tabs, "cpu_s_per_s": (c1 - c0) / (t1 - t0)}
    finally:
        for context, _page in opened:
            context.close()


def idle_cpu(server: DashboardServer, window: float) -> float:
    time.sleep(3.0)
    c0, t0 = proc_cpu_seconds(server.pid), time.monotonic()
    time.sleep(window)
    return (proc_cpu_seconds(server.pid) - c0) / (time.monotonic() - t0)


# (server mode, variants measured on it, extra environment)
SERVERS = (
    ("fragment", ("push", "fragment"), {}),  # as shipped; "fragment": push blocked
    ("fragment", ("push at 20/s",), {"IBKR_PUSH_RATE": "20"}),  # what p95 <= 100 ms costs
    ("whole", ("whole",), {}),  # streamlit-autorefresh, push blocked
)


def run(quick: bool, cpu_only: bool = False) -> dict[str, Any]:
    """``cpu_only``: just the CPU table (100 symbols), e.g. after a config change."""
    from ibkr_core.simulator import SimConfig, start_in_background

    changes = 15 if quick else 40
    window = 8.0 if quick else 20.0
    result: dict[str, Any] = {"changes": changes, "window_s": window, "tick_to_screen": [],
                              "cpu": []}  # fmt: skip
    result["post_script_gc"] = _post_script_gc()
    for n in (100,) if cpu_only else (10, 100):
        symbols = symbols_for(n)
        gw = start_in_background(seed=5, port=0, config=SimConfig())
        try:
            gw.stop_ticks(TARGET)
            with FloorClient(gw.port, TARGET) as floor, browser() as b:
                for mode, variants, env in SERVERS:
                    label = f"pvf-{mode}-{n}-{len(env)}"
                    with DashboardServer(
                        gw.port, symbols, mode=mode, label=label, extra_env=env
                    ) as server:
                        for variant in () if cpu_only else variants:
                            push = variant.startswith("push")
                            row = tick_to_screen(b, server, gw, floor, push, changes)
                            row.update(symbols=n, variant=variant)
                            result["tick_to_screen"].append(row)
                            print(f"  t2s {n} {variant}: {row['screen_ms']}", flush=True)
                        if n != 100:
                            continue
                        idle = idle_cpu(server, window)
                        result["cpu"].append({"variant": f"idle ({mode} server)", "tabs": 0,
                                              "cpu_s_per_s": idle})  # fmt: skip
                        for variant in variants:
                            for tabs in (1, 5):
                                push = variant.startswith("push")
                                row = cpu_per_second(b, server, push, tabs, window)
                                row.update(variant=variant, idle=idle)
                                result["cpu"].append(row)
                                print(f"  cpu {variant} {tabs} tabs: {row}", flush=True)
        finally:
            gw.stop()
    save_raw(NAME, result)
    return result


def _post_script_gc() -> bool:
    import tomllib

    from benchmarks.common import ROOT

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    return bool(config.get("runner", {}).get("postScriptGC", True))


def render(result: dict[str, Any], plots: Any = None) -> str:
    gc = result.get("post_script_gc")
    lines = [
        "Market data page; the live stream coalesces to at most 4 messages a second per "
        f"client; refresh interval 1 s for fragment and whole. {result['changes']} price "
        "changes per row, a random 0–1 s apart. Streamlit's `runner.postScriptGC`: "
        f"{'unknown' if gc is None else str(gc).lower()}.",
        "",
        "| symbols | variant | tick→screen p50 | p95 | max | ib_async floor p50 | missed |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    if not result["tick_to_screen"]:
        lines = lines[:1]
    for r in result["tick_to_screen"]:
        s, f = r["screen_ms"], r["floor_ms"]
        lines.append(
            f"| {r['symbols']} | {r['variant']} | {s['p50']:.0f} ms | {s['p95']:.0f} ms "
            f"| {s['max']:.0f} ms | {f['p50']:.2f} ms | {r['missed']} |"
        )
    lines += [
        "",
        f"Server CPU (user+system of the streamlit process) over {result['window_s']:g} s, "
        "100 symbols streaming; per tab = (busy − idle) / tabs.",
        "",
        "| variant | tabs | CPU s/s | per tab (minus idle) |",
        "|---|---:|---:|---:|",
    ]
    for r in result["cpu"]:
        if r["tabs"] == 0:
            lines.append(f"| {r['variant']} | 0 | {r['cpu_s_per_s']:.3f} | — |")
            continue
        per_tab = (r["cpu_s_per_s"] - r["idle"]) / r["tabs"]
        lines.append(f"| {r['variant']} | {r['tabs']} | {r['cpu_s_per_s']:.3f} | {per_tab:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.push_vs_fragment")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--cpu-only", action="store_true", help="only the CPU table")
    args = parser.parse_args(argv)
    result = run(args.quick, cpu_only=args.cpu_only)
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "_cpu" if args.cpu_only else ""
    out = RESULTS / f"{NAME}{suffix}.md"
    out.write_text(f"# {TITLE}\n\n{render(result)}\n")
    (RESULTS / f"{NAME}{suffix}.json").write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
