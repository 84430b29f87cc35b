"""The local history store: round trip, incremental fetch, damaged / locked / newer files,
and many sessions at once on the one shared connection."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from ibkr_core.history import DailySource, HistoryService
from ibkr_core.quote import QuoteSource
from ibkr_core.settings import Settings
from ibkr_core.store import SCHEMA_VERSION, AccountSnapshot, FillRecord, HistoryStore
from tests.store_support import held_elsewhere

pytestmark = pytest.mark.timeout(60)

TODAY = date(2026, 11, 18)  # a Wednesday


def daily(start: date, end: date, base: float = 100.0) -> pd.DataFrame:
    days = pd.bdate_range(start, end, tz="UTC", name="date")
    closes = [base + i for i in range(len(days))]
    return pd.DataFrame(
        {"open": closes, "high": closes, "low": closes, "close": closes, "volume": 1000.0},
        index=days,
    )


class CountingSource:
    """A daily source that records every (symbol, start, today) it is asked for."""

    def __init__(self, name: str = "IBKR", fail: set[str] | None = None) -> None:
        self.name = name
        self.calls: list[tuple[str, date, date]] = []
        self.fail = fail or set()
        self._lock = threading.Lock()

    def fetch(self, symbol: str, start: date, today: date) -> pd.DataFrame:
        with self._lock:
            self.calls.append((symbol, start, today))
        time.sleep(0.01)
        if symbol in self.fail:
            raise TimeoutError("IBKR did not answer in time")
        return daily(start, today)

    def source(self) -> DailySource:
        return DailySource(self.name, self.fetch)


def service(store: HistoryStore, src: CountingSource, today: list[date]) -> HistoryService:
    return HistoryService(
        yahoo=None,  # type: ignore[arg-type]  # chart bars are not used here
        settings=Settings(history_cache_ttl=300.0),
        store=store,
        daily_sources=lambda: [src.source()],
        today=lambda: today[0],
    )


def test_round_trip_survives_reopening(tmp_path):
    path = tmp_path / "h.duckdb"
    store = HistoryStore.open(path)
    assert store.available and store.status.message is None
    assert store.schema_version == SCHEMA_VERSION
    bars = daily(date(2026, 1, 5), date(2026, 1, 16))
    assert store.write_bars("AAPL", "1 day", "IBKR", bars) == 10
    snap = AccountSnapshot("DU1", datetime(2026, 1, 16, 21, tzinfo=UTC), "USD", 1000.5, 400.25)
    store.write_snapshots([snap])
    fill = FillRecord(
        "0001.01", "DU1", datetime(2026, 1, 16, 15, tzinfo=UTC), "AAPL", "STK", "USD", "BOT",
        10, 228.5, "ISLAND", 7, 99,
    )  # fmt: skip
    store.write_fill(fill)
    assert store.set_commission("0001.01", 1.0, "USD", None)
    store.close()

    again = HistoryStore.open(path)
    read = again.read_bars("AAPL", "1 day", "IBKR")
    pd.testing.assert_frame_equal(read, bars, check_freq=False, check_names=False)
    assert again.read_bars("AAPL", "1 day", "Yahoo").empty  # sources never mix
    window = again.read_bars("AAPL", "1 day", "IBKR", date(2026, 1, 7), date(2026, 1, 8))
    assert list(window.index.date) == [date(2026, 1, 7), date(2026, 1, 8)]
    snaps = again.snapshots("DU1")
    assert snaps["net_liquidation"].tolist() == [1000.5] and snaps["currency"].tolist() == ["USD"]
    assert snaps["ts"].iloc[0] == pd.Timestamp("2026-01-16 21:00", tz="UTC")
    fills = again.fills("DU1")
    assert fills[["exec_id", "side", "shares", "price", "commission"]].values.tolist() == [
        ["0001.01", "BOT", 10.0, 228.5, 1.0]
    ]
    # a correction of the same execution replaces it and keeps the commission
    again.write_fill(FillRecord(**{**fill.__dict__, "price": 228.4}))
    assert again.fills()[["price", "commission"]].values.tolist() == [[228.4, 1.0]]
    again.close()


def test_second_visit_asks_only_for_the_missing_tail(tmp_path):
    store = HistoryStore.open(tmp_path / "h.duckdb")
    src = CountingSource()
    today = [TODAY]
    history = service(store, src, today)
    year_ago = TODAY - timedelta(days=365)

    first = history.daily("AAPL", year_ago)
    assert src.calls == [("AAPL", year_ago, TODAY)]
    assert first.requests == 1 and first.fetched == len(first.frame) > 250

    again = history.daily("aapl", year_ago)  # same range within the TTL: the store only
    assert len(src.calls) == 1 and again.requests == 0
    assert again.from_store == len(again.frame) == len(first.frame)

    shorter = history.daily("AAPL", TODAY - timedelta(days=30))
    assert len(src.calls) == 1 and shorter.requests == 0

    today[0] = TODAY + timedelta(days=5)  # five days later: only the tail is asked for
    later = history.daily("AAPL", year_ago)
    assert src.calls[1] == ("AAPL", TODAY, TODAY + timedelta(days=5))
    assert later.fetched == 4 and later.from_store == len(later.frame) - 4  # Wed..Mon

    earlier = history.daily("AAPL", year_ago - timedelta(days=90))  # starts before the store
    assert src.calls[2][1] == year_ago - timedelta(days=90) and len(src.calls) == 3
    history.daily("AAPL", year_ago - timedelta(days=90))
    assert len(src.calls) == 3
    assert earlier.frame.index[0].date() >= year_ago - timedelta(days=90)


def test_a_failing_source_keeps_showing_stored_bars_and_says_why(tmp_path):
    store = HistoryStore.open(tmp_path / "h.duckdb")
    src = CountingSource()
    today = [TODAY]
    history = service(store, src, today)
    history.daily("MSFT", TODAY - timedelta(days=60))
    src.fail = {"MSFT", "NVDA"}
    today[0] = TODAY + timedelta(days=2)
    stale = history.daily("MSFT", TODAY - timedelta(days=60))
    assert stale.ok and stale.frame.index[-1].date() == TODAY
    assert stale.problems == ["IBKR: IBKR did not answer in time"]
    missing = history.daily("NVDA", TODAY - timedelta(days=60))
    assert not missing.ok and missing.source is None
    assert missing.problems == ["IBKR: IBKR did not answer in time"]


def test_corrupt_file_is_kept_aside_and_a_new_store_starts(tmp_path):
    path = tmp_path / "history.duckdb"
    garbage = b"this is not a database\n" * 500
    path.write_bytes(garbage)
    store = HistoryStore.open(path)
    assert store.available
    assert "could not be read" in store.status.message
    aside = list(tmp_path.glob("history.duckdb.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == garbage  # kept, untouched
    assert aside[0].name in store.status.message
    store.write_snapshots([AccountSnapshot("DU1", datetime.now(UTC), "USD", 1.0, 1.0)])
    assert len(store.snapshots()) == 1
    store.close()
    path.write_bytes(garbage)  # damaged again: a second copy, the first is not overwritten
    HistoryStore.open(path).close()
    assert len(list(tmp_path.glob("history.duckdb.corrupt-*"))) == 2
    assert aside[0].read_bytes() == garbage


def test_newer_schema_is_left_untouched_and_history_is_off(tmp_path):
    import duckdb

    path = tmp_path / "h.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute("INSERT INTO meta VALUES ('schema_version', '99')")
    con.close()
    before = path.read_bytes()
    store = HistoryStore.open(path)
    assert not store.available
    assert "newer version" in store.status.message and "schema 99" in store.status.message
    assert store.snapshots().empty and store.fills().empty and store.fill_count() == 0
    assert store.read_bars("AAPL", "1 day", "IBKR").empty
    assert path.read_bytes() == before


def test_store_held_by_another_process_is_reported_and_history_is_off(tmp_path):
    path = tmp_path / "h.duckdb"
    HistoryStore.open(path).close()
    with held_elsewhere(path, seconds=30):
        store = HistoryStore.open(path)
        assert not store.available
        assert "in use by another process" in store.status.message
        assert not list(tmp_path.glob("*.corrupt-*"))  # a locked file is not damaged
        # a service on an unavailable store still answers, from the provider each time
        src = CountingSource()
        history = service(store, src, [TODAY])
        assert history.daily("AAPL", TODAY - timedelta(days=30)).ok
        assert history.daily("AAPL", TODAY - timedelta(days=30)).requests == 0  # memory


def test_concurrent_sessions_share_one_connection_and_one_fetch_per_symbol(tmp_path):
    store = HistoryStore.open(tmp_path / "h.duckdb")
    src = CountingSource()
    history = service(store, src, [TODAY])
    symbols = ["AAPL", "MSFT", "NVDA", "SPY"]
    errors: list[BaseException] = []
    results: list[int] = []

    def session(i: int) -> None:
        try:
            for symbol in symbols[i % 4 :] + symbols[: i % 4]:
                results.append(len(history.daily(symbol, TODAY - timedelta(days=200)).frame))
            store.write_snapshots(
                [AccountSnapshot(f"DU{i}", datetime.now(UTC), "USD", float(i), 0.0)]
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=session, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert len(results) == 48 and len(set(results)) == 1
    assert sorted(c[0] for c in src.calls) == sorted(symbols)  # one fetch per symbol
    assert len(store.accounts()) == 12


def test_the_daily_chart_ranges_read_the_store_too(tmp_path):
    store = HistoryStore.open(tmp_path / "h.duckdb")
    src = CountingSource()
    history = service(store, src, [TODAY])
    frame, source = history.bars("AAPL", "1Y")
    assert len(src.calls) == 1 and source is QuoteSource.IBKR_LIVE and len(frame) > 250
    again, _ = history.bars("AAPL", "6M")  # inside what is stored: nobody is asked
    assert len(src.calls) == 1 and again.index[0].date() >= TODAY - timedelta(days=183)
