"""Records the account into the history store: snapshots, executions and commissions.

Public API::

    recorder = Recorder(store, connection, portfolio, settings, history=..., is_demo=...)
    recorder.start()        # idempotent; a daemon writer thread
    recorder.flush(timeout) # wait until everything queued is written (tests, shutdown)
    recorder.snapshot_now() # queue a snapshot (e.g. after a deposit in the simulator)
    recorder.stop()

While connected, one snapshot per account (net liquidation, cash, daily / unrealized /
realized P&L, in the account's base currency) every ``settings.snapshot_interval``
seconds (default 60) and after every fill. Executions and commission reports are stored
as they arrive, and on every (re)connect the fills the gateway still reports are swept in
(IBKR reports executions only back to midnight: the store keeps them beyond).

The loop thread only copies event data into a ``queue.SimpleQueue`` (never blocks); the
writer thread does every store write and every blocking read of the account. Each write
is its own DuckDB transaction, so a crash loses at most the write in progress.

Demo only: on the first connection to the built-in simulated gateway with an empty
store, the account's last year is replayed from the simulator's daily bars (today's
positions and cash valued at each day's close, kind "replay"), so the equity curve and
Explore have something to show on the first visit; the bars fetched for it are stored
too. A real account's past cannot be rebuilt that way, so it is never done for one.
"""

from __future__ import annotations

import contextlib
import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ibkr_core.history import YEAR_AND_A_WEEK
from ibkr_core.store import AccountSnapshot, FillRecord, HistoryStore

log = logging.getLogger(__name__)

UNSET_DOUBLE = 1.7976931348623157e308  # IBKR's "no value" for realizedPNL & co.
FILL_SETTLE = 1.0  # seconds after a commission report before the "fill" snapshot
REPLAY_DAYS = YEAR_AND_A_WEEK  # what Explore loads by default: its first visit reads the store


def _num(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) or abs(x) >= UNSET_DOUBLE / 2 else x


def fill_record(fill: Any) -> FillRecord:
    """An ib_async ``Fill`` as stored (loop thread: attribute copies only)."""
    ex, c, report = fill.execution, fill.contract, fill.commissionReport
    commission = _num(getattr(report, "commission", None)) if report else None
    has_commission = report is not None and bool(getattr(report, "execId", ""))
    ts = ex.time if isinstance(ex.time, datetime) else fill.time
    return FillRecord(
        exec_id=ex.execId,
        account=ex.acctNumber,
        ts=ts if ts.tzinfo else ts.replace(tzinfo=UTC),
        symbol=c.localSymbol if c.secType == "CASH" else c.symbol,
        sec_type=c.secType,
        currency=c.currency,
        side=ex.side,
        shares=float(ex.shares),
        price=float(ex.price),
        exchange=ex.exchange or "",
        order_id=int(ex.orderId or 0),
        perm_id=int(ex.permId or 0),
        commission=commission if has_commission else None,
        commission_currency=(report.currency or None) if has_commission else None,
        realized_pnl=_num(report.realizedPNL) if has_commission else None,
    )


@dataclass(frozen=True)
class _Commission:
    exec_id: str
    commission: float
    currency: str
    realized_pnl: float | None


@dataclass(frozen=True)
class _Task:
    kind: str  # fill, commission, fill_settled, snapshot, sweep, replay, flush, stop
    payload: Any = None


class Recorder:
    def __init__(
        self,
        store: HistoryStore,
        connection: Any,
        portfolio: Any,
        settings: Any,
        *,
        history: Any = None,
        is_demo: Callable[[], bool] = lambda: False,
        replay_symbols: Callable[[], list[str]] = lambda: [],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self._conn = connection
        self._portfolio = portfolio
        self._interval = max(1.0, float(getattr(settings, "snapshot_interval", 60.0)))
        self._history = history
        self._is_demo = is_demo
        self._replay_symbols = replay_symbols
        self._clock = clock
        self._queue: queue.SimpleQueue[_Task] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._attached = False
        self._lock = threading.Lock()
        self.errors: list[str] = []  # the last few write failures, for the UI / tests

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._thread is not None or not self.store.available:
                return
            self._thread = threading.Thread(target=self._run, name="history-recorder", daemon=True)
            self._thread.start()
        with contextlib.suppress(Exception):
            self._conn.loop.call(self._attach, timeout=5)

    def stop(self, timeout: float = 5.0) -> None:
        with contextlib.suppress(Exception):
            self._conn.loop.call(self._detach, timeout=5)
        thread = self._thread
        if thread is not None:
            self._queue.put(_Task("stop"))
            thread.join(timeout)
        self._thread = None

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every task queued before this call is done."""
        if self._thread is None:
            return True
        done = threading.Event()
        self._queue.put(_Task("flush", done))
        return done.wait(timeout)

    def snapshot_now(self, kind: str = "live") -> None:
        self._queue.put(_Task("snapshot", kind))

    # -- loop thread: copy and queue, nothing else ---------------------------------------

    def _attach(self) -> None:
        if self._attached:
            return
        ib = self._conn.ib
        ib.execDetailsEvent += self._on_exec
        ib.commissionReportEvent += self._on_commission
        self._conn.connected_event += self._on_session_up
        self._conn.reconnected_event += self._on_session_up
        self._attached = True
        if ib.isConnected():
            self._on_session_up(None)

    def _detach(self) -> None:
        if not self._attached:
            return
        ib = self._conn.ib
        ib.execDetailsEvent -= self._on_exec
        ib.commissionReportEvent -= self._on_commission
        self._conn.connected_event -= self._on_session_up
        self._conn.reconnected_event -= self._on_session_up
        self._attached = False

    def _on_exec(self, _trade: Any, fill: Any) -> None:
        self._queue.put(_Task("fill", fill_record(fill)))

    def _on_commission(self, _trade: Any, fill: Any, report: Any) -> None:
        self._queue.put(
            _Task(
                "commission",
                _Commission(
                    report.execId or fill.execution.execId,
                    float(report.commission),
                    report.currency,
                    _num(report.realizedPNL),
                ),
            )
        )
        self._queue.put(_Task("fill_settled"))

    def _on_session_up(self, _status: Any) -> None:
        fills = [fill_record(f) for f in self._conn.ib.fills()]
        self._queue.put(_Task("sweep", fills))
        self._queue.put(_Task("snapshot", "live"))
        self._queue.put(_Task("replay"))

    # -- writer thread -------------------------------------------------------------------

    def _run(self) -> None:
        next_snapshot = self._clock() + self._interval
        fill_due: float | None = None  # a snapshot owed to recent fills
        while True:
            due = next_snapshot if fill_due is None else min(next_snapshot, fill_due)
            try:
                task = self._queue.get(timeout=max(0.05, due - self._clock()))
            except queue.Empty:
                if fill_due is not None and self._clock() >= fill_due:
                    task, fill_due = _Task("snapshot", "fill"), None
                else:
                    task = _Task("snapshot", "live")
            if task.kind == "stop":
                return
            if task.kind == "flush":
                task.payload.set()
                continue
            if task.kind == "fill_settled":
                # one snapshot shortly after a burst of fills, once the account values
                # that follow the commission reports have arrived
                fill_due = fill_due or self._clock() + FILL_SETTLE
                continue
            if task.kind == "snapshot" and task.payload == "live":
                next_snapshot = self._clock() + self._interval
            try:
                self._do(task)
            except Exception as exc:  # a store hiccup must not end recording
                log.exception("history recorder: %s failed", task.kind)
                self.errors = [*self.errors[-4:], f"{task.kind}: {exc}"]

    def _do(self, task: _Task) -> None:
        if task.kind == "fill":
            self.store.write_fill(task.payload)
        elif task.kind == "sweep":
            for record in task.payload:
                self.store.write_fill(record)
        elif task.kind == "commission":
            c = task.payload
            if not self.store.set_commission(c.exec_id, c.commission, c.currency, c.realized_pnl):
                log.info("commission for unknown execution %s (fill not seen yet)", c.exec_id)
        elif task.kind == "snapshot":
            self._snapshot(task.payload)
        elif task.kind == "replay":
            self._replay()

    def _snapshot(self, kind: str) -> None:
        if not self._conn.ib_ready() or self._portfolio is None:
            return
        summary = self._portfolio.portfolio_summary()
        if not summary.connected:
            return
        per_account = summary.per_account or (
            {summary.accounts[0]: summary} if summary.accounts else {}
        )
        now = datetime.now(UTC)
        self.store.write_snapshots(
            AccountSnapshot(
                account=account,
                ts=now,
                currency=s.currency,
                net_liquidation=s.net_liquidation,
                total_cash=s.total_cash,
                daily_pnl=s.daily_pnl,
                unrealized_pnl=s.unrealized_pnl,
                realized_pnl=s.realized_pnl,
                kind=kind,
            )
            for account, s in per_account.items()
        )

    def _replay(self) -> None:
        """Demo only: a year of daily account values from the simulator's bars."""
        if not self._is_demo() or self._history is None or self._portfolio is None:
            return
        summary = self._portfolio.portfolio_summary()
        for account in summary.accounts:
            if len(self.store.snapshots(account)) > 5:  # replayed or recorded already
                continue
            self._replay_account(account, summary)
        for symbol in self._replay_symbols():  # warm the store for Explore
            self._history.daily(symbol, self._history.today() - timedelta(days=REPLAY_DAYS))

    def _replay_account(self, account: str, summary: Any) -> None:
        own = summary.per_account.get(account, summary) if summary.per_account else summary
        if own.total_cash is None:
            return
        positions = [p for p in self._portfolio.positions(account) if p.quantity]
        today = self._history.today()
        start = today - timedelta(days=REPLAY_DAYS)
        closes: dict[str, Any] = {}
        for p in positions:
            series = self._history.daily(p.symbol, start)
            if not series.ok:
                log.info("replay: no bars for %s (%s)", p.symbol, series.problems)
                return  # a partial account value would be wrong: replay nothing
            closes[p.symbol] = series.frame["close"]
        if not closes:
            return
        import pandas as pd

        frame = pd.DataFrame(closes).sort_index().ffill().dropna()
        qty = {p.symbol: p.quantity for p in positions}
        rows = []
        for ts, row in frame.iterrows():
            if ts.date() >= today:
                continue
            value = sum(qty[s] * row[s] for s in qty)
            rows.append(
                AccountSnapshot(
                    account=account,
                    ts=ts + pd.Timedelta(hours=21),  # after the US close
                    currency=own.currency,
                    net_liquidation=own.total_cash + value,
                    total_cash=own.total_cash,
                    kind="replay",
                )
            )
        self.store.write_snapshots(rows)
        log.info("replayed %d days of %s from the simulator's bars", len(rows), account)
