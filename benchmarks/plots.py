"""PNG plots for the report (matplotlib, headless). Each function returns the PNG's path
relative to the report, or None when matplotlib is missing."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class Plots:
    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            self.plt = plt
        except ImportError:
            self.plt = None

    def _save(self, fig: Any, name: str) -> str:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        fig.tight_layout()
        fig.savefig(self.out_dir / name, dpi=110)
        self.plt.close(fig)
        return name

    def tick_to_screen(self, result: dict[str, Any]) -> str | None:
        if self.plt is None:
            return None
        fig, ax = self.plt.subplots(figsize=(8, 4))
        for r in result["runs"]:
            screen = sorted(s["screen_ms"] for s in r["samples"] if s["screen_ms"] is not None)
            if screen:
                ys = [(i + 1) / len(screen) for i in range(len(screen))]
                ax.step(screen, ys, where="post", label=f"screen, {r['symbols']} symbols")
            floor = sorted(s["floor_ms"] for s in r["samples"] if s["floor_ms"] is not None)
            if floor:
                ys = [(i + 1) / len(floor) for i in range(len(floor))]
                ax.step(floor, ys, where="post", ls="--", label=f"ib_async, {r['symbols']} symbols")
        ax.set_xscale("symlog", linthresh=10)
        ax.set_xlabel("delay after gw.set_price (ms)")
        ax.set_ylabel("fraction of changes seen")
        ax.set_title("Tick to screen vs the ib_async floor (CDF)")
        ax.grid(alpha=0.3)
        ax.legend()
        return self._save(fig, "tick_to_screen.png")

    def refresh_cost(self, result: dict[str, Any]) -> str | None:
        if self.plt is None:
            return None
        names = list(result["median"])
        cpu = [result["median"][n]["cpu_ms_per_refresh"] for n in names]
        wall = [result["median"][n]["script_wall_ms"] for n in names]
        fig, ax = self.plt.subplots(figsize=(8, 3.8))
        xs = range(len(names))
        ax.bar([x - 0.2 for x in xs], cpu, 0.4, label="server CPU per refresh")
        ax.bar([x + 0.2 for x in xs], wall, 0.4, label="script wall time per refresh")
        ax.set_xticks(list(xs), [n.replace(", ", ",\n") for n in names])
        ax.set_ylabel("ms")
        ax.set_title(f"Cost of one refresh, {result['symbols']} symbols")
        ax.grid(axis="y", alpha=0.3)
        ax.legend()
        return self._save(fig, "refresh_cost.png")

    def quote_load(self, result: dict[str, Any]) -> str | None:
        if self.plt is None:
            return None
        fig, ax = self.plt.subplots(figsize=(8, 4))
        for interval, series in result["series"].items():
            t = float(interval)
            label = f"{1000 * t:g} ms ({0.25 / t:.0f}x)" if t else "flat out"
            ax.plot([s[0] for s in series], [1000 * s[1] for s in series], lw=0.8, label=label)
        ax.set_xlabel("seconds into the run")
        ax.set_ylabel("snapshot lag (ms)")
        ax.set_title("Quote path: snapshot lag behind the gateway, 100 lines")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, ncol=2)
        return self._save(fig, "quote_load.png")

    def soak(self, result: dict[str, Any]) -> str | None:
        if self.plt is None:
            return None
        s = result["samples"]
        if not s:
            return None
        t = [x["t"] / 60 for x in s]
        fig, (a1, a2) = self.plt.subplots(2, 1, figsize=(8, 5), sharex=True)
        a1.plot(t, [x["rss_mib"] for x in s])
        a1.set_ylabel("RSS (MiB)")
        a1.set_ylim(0, max(x["rss_mib"] for x in s) * 1.15)
        a2.plot(t, [x["threads"] for x in s], color="tab:orange")
        a2.set_ylabel("threads")
        a2.set_xlabel("minutes")
        a2.set_ylim(0, max(x["threads"] for x in s) + 3)
        o = result["outage"]
        if "t" in o:
            for ax in (a1, a2):
                ax.axvspan(o["t"] / 60, (o["t"] + o["length_s"]) / 60, color="red", alpha=0.2)
        a1.set_title("Streamlit server during the soak (red: gateway outage)")
        for ax in (a1, a2):
            ax.grid(alpha=0.3)
        return self._save(fig, "soak.png")
