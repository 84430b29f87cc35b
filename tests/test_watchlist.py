"""Watchlist: normalisation, validation, persistence (atomic), and the services' validator."""

from __future__ import annotations

import json
import os
import threading

import pytest

from ibkr_core.watchlist import (
    DEFAULT_SYMBOLS,
    InvalidSymbolError,
    UnknownSymbolError,
    Watchlist,
    WatchlistError,
    normalize_symbol,
)

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def path(tmp_path):
    return tmp_path / "sub" / "watchlist.json"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("aapl", "AAPL"),
        ("  msft \n", "MSFT"),
        ("brk.b", "BRK.B"),
        ("brk   b", "BRK B"),
        ("EUR.USD", "EUR.USD"),
        ("btc-usd", "BTC-USD"),
        ("7203", "7203"),
    ],
)
def test_normalize_symbol(raw, expected):
    assert normalize_symbol(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "   ", None, "AAPL;DROP", "<script>", "A" * 16, ".AAPL", "ÄPL", "a\tb\x00"]
)
def test_invalid_symbols_are_refused_with_a_message(raw):
    with pytest.raises(InvalidSymbolError) as info:
        normalize_symbol(raw)
    assert str(info.value)


def test_default_list_until_a_change_then_persisted_across_restarts(path):
    wl = Watchlist(path)
    assert wl.symbols() == list(DEFAULT_SYMBOLS)
    assert not path.exists()  # reading never writes
    result = wl.add(" amd ")
    assert result.added and result.symbol == "AMD"
    assert wl.remove("aapl") is True
    assert wl.remove("AAPL") is False
    assert json.loads(path.read_text())["symbols"] == [
        s for s in [*DEFAULT_SYMBOLS, "AMD"] if s != "AAPL"
    ]
    again = Watchlist(path)  # a restart
    assert again.symbols() == wl.symbols()
    assert "amd" in again and "AAPL" not in again


def test_duplicate_add_is_a_no_op(path):
    wl = Watchlist(path, default=["AAPL"])
    result = wl.add("aapl")
    assert not result.added and "already" in result.message
    assert wl.symbols() == ["AAPL"]


def test_validator_rejects_unknown_symbol_and_nothing_is_saved(path):
    wl = Watchlist(path, validator=lambda s: s != "ZZZZQ", default=["AAPL"])
    with pytest.raises(UnknownSymbolError, match="Unknown symbol ZZZZQ"):
        wl.add("zzzzq")
    assert wl.symbols() == ["AAPL"]
    assert not path.exists()
    ok = wl.add("msft")
    assert ok.added and ok.verified and ok.message == "Added MSFT."


@pytest.mark.parametrize("verdict", [None, "raise"])
def test_unverifiable_symbol_is_added_and_says_so(path, verdict):
    def validator(_symbol):
        if verdict == "raise":
            raise RuntimeError("offline")
        return None

    wl = Watchlist(path, validator=validator, default=[])
    result = wl.add("IBM")
    assert result.added and not result.verified
    assert "could not check" in result.message
    assert wl.symbols() == ["IBM"]


def test_max_symbols(path):
    wl = Watchlist(path, default=["A", "B"], max_symbols=2)
    with pytest.raises(WatchlistError, match="at most 2"):
        wl.add("C")


def test_reset_restores_the_default(path):
    wl = Watchlist(path, default=["AAPL", "MSFT"])
    wl.remove("AAPL")
    assert wl.reset() == ["AAPL", "MSFT"]
    assert Watchlist(path).symbols() == ["AAPL", "MSFT"]


def test_corrupt_or_odd_file_falls_back_and_skips_bad_entries(path):
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    assert Watchlist(path, default=["SPY"]).symbols() == ["SPY"]
    path.write_text(json.dumps({"symbols": ["aapl", "bad;one", "AAPL", 42, "msft"]}))
    assert Watchlist(path).symbols() == ["AAPL", "42", "MSFT"]
    path.write_text(json.dumps({"symbols": "AAPL"}))
    assert Watchlist(path, default=["QQQ"]).symbols() == ["QQQ"]


def test_writes_are_atomic_and_leave_no_temp_files(path, monkeypatch):
    wl = Watchlist(path, default=["AAPL"])
    wl.add("MSFT")
    before = path.read_text()

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError):
        wl.add("NVDA")
    monkeypatch.undo()
    assert path.read_text() == before  # the old file is intact
    assert wl.symbols() == ["AAPL", "MSFT"]  # and so is the in-memory list
    assert [p.name for p in path.parent.iterdir()] == ["watchlist.json"]


def test_concurrent_adds_from_many_sessions_all_land(path):
    wl = Watchlist(path, default=[], max_symbols=100)
    symbols = [f"S{i}" for i in range(40)]
    threads = [threading.Thread(target=wl.add, args=(s,)) for s in symbols]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert sorted(wl.symbols()) == sorted(symbols)
    assert sorted(Watchlist(path).symbols()) == sorted(symbols)


# ------------------------------------------------------- the services' validator
def test_services_validator_asks_ibkr_when_connected(tmp_path, gateway):
    from ibkr_core.services import build_services
    from ibkr_core.settings import Settings

    services = build_services(
        Settings(
            watchlist_file=str(tmp_path / "wl.json"),
            connect_timeout=4.0,
            request_timeout=4.0,
            provider_timeout=2.0,
        )
    )
    try:
        assert services.connect(gateway.host, gateway.port).connected
        wl = services.watchlist
        assert wl.add("googl").verified
        with pytest.raises(UnknownSymbolError):
            wl.add("ZZZZQ")
        assert "ZZZZQ" not in wl.symbols()
        assert Watchlist(tmp_path / "wl.json").symbols()[-1] == "GOOGL"
    finally:
        services.close()
