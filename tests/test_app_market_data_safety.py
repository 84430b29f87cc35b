"""The market data page against issue 14's hostile tests: a corrupt or odd watchlist
file, a folder as its path, offline adds and markdown in symbols (AppTest)."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from ibkr_core.watchlist import DEFAULT_SYMBOLS
from tests.app_support import FakeTicker, fresh_services, run_app, shown

pytestmark = pytest.mark.timeout(90)


def page() -> AppTest:
    return run_app("pages/market_data.py")


def add(at: AppTest, symbol: str) -> None:
    at.text_input(key="md_new_symbol").input(symbol)
    at.button(key="md_add").click()
    at.run()
    assert not at.exception, at.exception


def messages(elements) -> list[str]:
    return [shown(e.value) for e in elements]


def test_a_trailing_comma_keeps_the_users_file_aside_and_says_so(tmp_path, monkeypatch):
    path = tmp_path / "watchlist.json"
    content = '{"symbols": ["KO", "PEP", "XOM",]}\n'
    path.write_text(content)
    with fresh_services(tmp_path, monkeypatch):
        at = page()
        (kept,) = list(tmp_path.glob("watchlist.json.corrupt-*"))
        warnings = messages(at.main.warning)
        assert any("was not valid" in w and kept.name in w for w in warnings), warnings
        add(at, "GOOGL")  # the first Add: the user's symbols are still in the kept file
        assert kept.read_text() == content
        assert json.loads(path.read_text())["symbols"] == [*DEFAULT_SYMBOLS, "GOOGL"]


def test_numbers_in_the_file_are_not_shown_as_symbols(tmp_path, monkeypatch):
    (tmp_path / "watchlist.json").write_text("[1, 2, 3, 4.5]")
    with fresh_services(tmp_path, monkeypatch):
        at = page()
        shown_symbols = list(at.main.dataframe[0].value["symbol"])
        assert shown_symbols == list(DEFAULT_SYMBOLS)
        assert any("1 is not a symbol" in w for w in messages(at.main.warning))


def test_a_folder_as_the_watchlist_path_is_a_plain_message(tmp_path, monkeypatch):
    (tmp_path / "watchlist.json").mkdir()  # the path fresh_services configures
    with fresh_services(tmp_path, monkeypatch):
        at = page()
        assert any("is a folder, not a file" in w for w in messages(at.main.warning))
        add(at, "GOOGL")
        errors = messages(at.main.error)
        assert any("is a folder, not a file" in e for e in errors), errors
        assert not any("IsADirectoryError" in e for e in errors)


def test_offline_a_symbol_is_added_unverified_with_a_note(tmp_path, monkeypatch):
    with fresh_services(tmp_path, monkeypatch):
        monkeypatch.setattr(FakeTicker, "fail_with", OSError("could not resolve host"))
        at = page()
        add(at, "KO")
        infos = messages(at.main.info)
        assert any("Added KO unverified" in i for i in infos), infos
        assert not any("Unknown symbol" in e for e in messages(at.main.error))


@pytest.mark.parametrize("symbol", ["**AAPL**", "WWW.EVIL.COM", "[x](http://evil.example)"])
def test_symbols_in_messages_are_text_not_markdown(tmp_path, monkeypatch, symbol):
    with fresh_services(tmp_path, monkeypatch):
        at = page()
        add(at, symbol)
        (raw,) = [e.value for e in at.main.error]
        assert symbol.upper()[:20] in shown(raw)
        for char in "*[]():.":
            assert char not in raw.replace("\\" + char, ""), raw
