"""The recorder against the simulated gateway over a real socket: snapshots on a timer and
at every fill, executions with their commissions, kept across a restart; the loop thread
never waits for the store; a killed writer loses at most its last write."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
from datetime import UTC, datetime
from types import SimpleNamespace

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from ibkr_core.orders import OrderTicket
from ibkr_core.recorder import Recorder
from ibkr_core.services import build_services
from ibkr_core.settings import Settings
from ibkr_core.simulator import start_in_background
from ibkr_core.store import HistoryStore
from tests.app_support import ROOT, fresh_services
from tests.conftest import wait_for

pytestmark = pytest.mark.timeout(120)


def settings(tmp_path, **overrides) -> Settings:
    return Settings(
        watchlist_file=str(tmp_path / "watchlist.json"),
        connect_timeout=4.0,
        request_timeout=4.0,
        snapshot_interval=1.0,
        **overrides,
    )


def test_fills_commissions_and_snapshots_are_recorded_and_survive_a_restart(tmp_path):
    services = build_services(settings(tmp_path))  # the default (multi-asset) Demo
    try:
        assert services.store.path == tmp_path / "history.duckdb"
        assert services.connect_demo().connected
        store = services.store
        assert services.recorder.flush(60)
        replayed = store.snapshots()
        assert (replayed["kind"] == "replay").sum() > 240  # a year of the demo account
        stock = next(
            p for p in services.portfolio.positions() if (p.symbol, p.sec_type) == ("AAPL", "STK")
        )  # the multi-asset Demo holds AAPL options too: the share by its conId
        ticket = OrderTicket("AAPL", "BUY", 10, con_id=stock.con_id)
        record = services.orders.place(ticket, "rec-1")
        assert wait_for(
            lambda: len(f := store.fills()) == 1 and bool(f["commission"].notna().all()), 10
        ), store.fills()
        fills = store.fills()
        row = fills.iloc[0]
        assert (row["symbol"], row["side"], row["shares"], row["order_id"]) == (
            "AAPL", "BOT", 10.0, record.order_id)  # fmt: skip
        assert row["commission"] == pytest.approx(1.0) and row["commission_currency"] == "USD"
        assert row["account"] == services.demo.account_id
        assert wait_for(lambda: (store.snapshots()["kind"] == "fill").any(), 10)
        live = wait_for(lambda: (s := store.snapshots())[s["kind"] == "live"].shape[0] >= 3, 10)
        assert live, store.snapshots()
        snaps = store.snapshots()
        recorded = snaps[snaps["kind"] != "replay"]
        assert (recorded["currency"] == "USD").all() and recorded["net_liquidation"].gt(0).all()
        gaps = recorded[recorded["kind"] == "live"]["ts"].diff().dropna().dt.total_seconds()
        assert gaps.max() < 5  # about one per snapshot_interval while connected
        before = (len(snaps), fills["exec_id"].tolist())
    finally:
        services.close()

    # a restart: a new simulator that no longer reports the execution, the same store
    again = build_services(settings(tmp_path))
    try:
        assert again.connect_demo().connected
        assert again.recorder.flush(60)
        assert again.store.fills()["exec_id"].tolist() == before[1]
        assert len(again.store.snapshots()) >= before[0]
        assert not (again.store.snapshots()["kind"] == "replay").sum() > 400  # not replayed twice
    finally:
        again.close()


def values(y) -> list[float]:
    """A plotly trace's y as sent (a list, or plotly's base64 typed array)."""
    if isinstance(y, dict):
        return np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"]).tolist()
    return list(y)


def equity_traces(at: AppTest) -> dict[str, list[float]]:
    """The equity curve's traces by name, as the browser receives them."""
    for chart in at.get("plotly_chart"):
        figure = json.loads(chart.proto.spec)
        names = {t.get("name", ""): values(t.get("y", [])) for t in figure["data"]}
        if any(n.startswith("Replayed") for n in names):
            return names
    raise AssertionError("no equity curve on the Portfolio page")


def test_the_multi_asset_demos_first_visit_shows_a_year_ending_at_todays_value(
    tmp_path, monkeypatch
):
    with fresh_services(tmp_path, monkeypatch) as services:
        assert services.connect_demo().connected  # the default Demo: multi-asset
        assert services.recorder.flush(90)
        at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
        at.switch_page("pages/portfolio.py")
        at.run()
        assert not at.exception, at.exception
        replayed = next(v for k, v in equity_traces(at).items() if k.startswith("Replayed"))
        assert len(replayed) > 240  # a year of trading days
        today = services.portfolio.portfolio_summary()
        assert today.currency == "USD" and today.net_liquidation
        # the last replayed close leads into today's net liquidation (no jump) ...
        assert replayed[-1] == pytest.approx(today.net_liquidation, rel=0.02)
        # ... and the year moved: options, the future's P&L and SAP/Tencent all replayed
        assert max(replayed) - min(replayed) > 0.05 * today.net_liquidation
        captions = " ".join(c.value for c in at.caption)
        assert "replayed from simulated bars" in captions.replace("\\", "")
        assert "held at today's value" not in captions  # every holding had its own bars


def test_a_real_connection_never_replays(tmp_path):
    gw = start_in_background(seed=1, port=0, profile="multi-asset")
    services = build_services(settings(tmp_path))
    try:
        assert services.connect(gw.host, gw.port).connected
        assert not services.on_demo()
        assert wait_for(lambda: len(services.store.snapshots()) >= 2, 20)
        assert services.recorder.flush(30)
        kinds = set(services.store.snapshots()["kind"])
        assert "live" in kinds and "replay" not in kinds  # only what was recorded
    finally:
        services.close()
        gw.stop()


class SlowStore(HistoryStore):
    """A store whose fill writes wait for the test to let them through."""

    def __init__(self, path) -> None:
        real = HistoryStore.open(path)
        super().__init__(path, real._con, real.status)
        self.release = threading.Event()
        self.writing = threading.Event()

    def write_fill(self, fill) -> None:
        self.writing.set()
        assert self.release.wait(20)
        super().write_fill(fill)


def fake_fill(exec_id: str) -> SimpleNamespace:
    execution = SimpleNamespace(
        execId=exec_id, time=datetime.now(UTC), acctNumber="DU1", side="BOT", shares=5.0,
        price=100.0, exchange="ISLAND", orderId=3, permId=4,
    )  # fmt: skip
    contract = SimpleNamespace(symbol="AAPL", localSymbol="AAPL", secType="STK", currency="USD")
    return SimpleNamespace(execution=execution, contract=contract, commissionReport=None)


def test_the_loop_thread_never_waits_for_a_store_write(tmp_path, connection):
    store = SlowStore(tmp_path / "h.duckdb")
    portfolio = SimpleNamespace(portfolio_summary=lambda: SimpleNamespace(connected=False))
    recorder = Recorder(store, connection, portfolio, connection.settings)
    recorder.start()
    try:
        # the event handlers run on the loop thread; the write is blocked meanwhile
        connection.loop.call(recorder._on_exec, None, fake_fill("x1"), timeout=2)
        assert store.writing.wait(5)
        connection.loop.call(recorder._on_exec, None, fake_fill("x2"), timeout=2)
        assert connection.loop.call(lambda: "still responsive", timeout=2) == "still responsive"
        assert store.fill_count() == 0
        store.release.set()
        assert recorder.flush(10)
        assert sorted(store.fills()["exec_id"]) == ["x1", "x2"]
    finally:
        store.release.set()
        recorder.stop()
        store.close()


WRITER = """
import sys, datetime as dt
sys.path.insert(0, sys.argv[2])
from ibkr_core.store import HistoryStore, AccountSnapshot
store = HistoryStore.open(sys.argv[1])
t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
for i in range(100000):
    store.write_snapshots([AccountSnapshot("DU1", t0 + dt.timedelta(seconds=i), "USD", i, 0.0)])
    print(i, flush=True)
"""


def test_a_writer_killed_mid_way_loses_at_most_the_last_snapshot(tmp_path):
    from tests.app_support import ROOT

    path = tmp_path / "h.duckdb"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(ROOT)], stdout=subprocess.PIPE, text=True
    )
    last = -1
    try:
        for line in proc.stdout:
            last = int(line)
            if last >= 200:
                break
    finally:
        proc.kill()  # SIGKILL: no clean shutdown, no checkpoint
        proc.wait(10)
    assert last >= 200
    store = HistoryStore.open(path)
    assert store.available and store.status.message is None  # opens cleanly
    values = store.snapshots("DU1")["net_liquidation"].tolist()
    assert len(values) >= last + 1  # every acknowledged write is there (perhaps one more)
    assert values == [float(i) for i in range(len(values))]
    store.close()
