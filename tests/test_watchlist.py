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
    parse_symbol,
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
        ("brk.b", "BRK B"),  # IBKR's spelling: one entry with "BRK B"
        ("brk   b", "BRK B"),
        ("EUR.USD", "EUR.USD"),
        ("btc-usd", "BTC-USD"),
        ("7203", "7203"),
    ],
)
def test_parse_symbol(raw, expected):
    assert parse_symbol(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "   ", None, "AAPL;DROP", "<script>", "A" * 16, ".AAPL", "ÄPL", "a\tb\x00"]
)
def test_invalid_symbols_are_refused_with_a_message(raw):
    with pytest.raises(InvalidSymbolError) as info:
        parse_symbol(raw)
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
    assert "unverified" in result.message
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


def kept_aside(path) -> list:
    return sorted(path.parent.glob(path.name + ".corrupt-*"))


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ('{"symbols": ["AAPL", "MSFT",]}', "not JSON"),  # a hand edit's trailing comma
        ("{not json", "not JSON"),
        ("[1, 2, 3, 4.5]", "1 is not a symbol"),
        ('{"symbols": ["aapl", 42]}', "42 is not a symbol"),
        ('{"symbols": ["aapl", "bad;one"]}', "'bad;one' is not a symbol"),
        ('{"symbols": "AAPL"}', 'no "symbols" list'),
    ],
)
def test_a_corrupt_file_is_kept_aside_with_a_message_never_overwritten(path, content, why):
    path.parent.mkdir(parents=True)
    path.write_text(content)
    wl = Watchlist(path, default=["SPY"])
    assert wl.symbols() == ["SPY"]  # never "1", "2", "3", "4.5"
    (kept,) = kept_aside(path)
    assert kept.read_text() == content  # the user's file, byte for byte
    assert why in wl.problem and kept.name in wl.problem
    wl.add("QQQ")  # the first Add writes a new file; the old one stays aside
    assert kept.read_text() == content
    assert json.loads(path.read_text())["symbols"] == ["SPY", "QQQ"]
    assert Watchlist(path).problem is None


def test_a_folder_path_is_a_plain_message_not_a_traceback(tmp_path):
    folder = tmp_path / "watchlist.json"
    folder.mkdir()
    wl = Watchlist(folder, default=["SPY"])
    assert wl.symbols() == ["SPY"]
    assert "is a folder, not a file" in wl.problem
    with pytest.raises(WatchlistError, match="is a folder, not a file"):
        wl.add("AAPL")
    assert folder.is_dir() and list(folder.iterdir()) == []


def test_share_classes_are_one_entry_in_ibkr_spelling(path):
    wl = Watchlist(path, default=[])
    assert wl.add("BRK.B").symbol == "BRK B"
    assert not wl.add("brk b").added
    assert not wl.add("BRK  B").added
    assert wl.symbols() == ["BRK B"] and "BRK.B" in wl


def test_a_hand_made_oversized_file_is_not_truncated_silently(path):
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"symbols": [f"S{i}" for i in range(60)]}))
    wl = Watchlist(path, max_symbols=50)
    assert len(wl.symbols()) == 50
    assert "holds 60 symbols" in wl.problem
    assert len(json.loads(path.read_text())["symbols"]) == 60  # reading never writes


def test_concurrent_adds_never_pass_the_cap(path):
    """Three sessions add at 49 of 50; validation (a network round trip) overlaps."""
    start = threading.Barrier(3)

    def slow_validator(_symbol):
        return True

    wl = Watchlist(path, validator=slow_validator, default=[f"S{i}" for i in range(49)])
    wl.reset()
    results: list = []

    def add(symbol):
        start.wait(5)
        try:
            results.append(wl.add(symbol))
        except WatchlistError as exc:
            results.append(exc)

    real_validate = wl._validate
    gate = threading.Barrier(3)

    def validate_together(symbol):  # every add is past its first room check
        verdict = real_validate(symbol)
        gate.wait(5)
        return verdict

    wl._validate = validate_together
    threads = [threading.Thread(target=add, args=(s,)) for s in ("X1", "X2", "X3")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(wl.symbols()) == 50
    assert len(json.loads(path.read_text())["symbols"]) == 50
    refused = [r for r in results if isinstance(r, WatchlistError)]
    assert len(refused) == 2 and all("at most 50" in str(r) for r in refused)


def test_writes_are_atomic_and_leave_no_temp_files(path, monkeypatch):
    wl = Watchlist(path, default=["AAPL"])
    wl.add("MSFT")
    before = path.read_text()

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(WatchlistError, match="disk full"):
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
