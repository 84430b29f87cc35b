"""One paper/live rule and one symbol normaliser, whoever asks."""

from __future__ import annotations

import pytest

from ibkr_core.connection_errors import account_is_paper, live_accounts, paper_mismatch_warning
from ibkr_core.history import HistoryService
from ibkr_core.settings import Settings
from ibkr_core.symbols import normalize_symbol
from tests.test_history import FakeYahoo

pytestmark = pytest.mark.timeout(10)


@pytest.mark.parametrize(
    ("accounts", "live", "paper"),
    [
        (["DU1234567"], [], True),
        (["DF42"], [], True),
        (["du1234567"], [], True),  # however TWS or a user cases it
        (["U7654321"], ["U7654321"], False),
        (["DU1", "U2"], ["U2"], False),  # one live account makes the set live
        (["DU1", "DF2"], [], True),
        ([], [], None),
    ],
)
def test_one_paper_rule(accounts, live, paper):
    assert live_accounts(accounts) == live
    assert account_is_paper(accounts) is paper


def test_the_port_warning_uses_the_same_rule_on_a_mixed_list():
    assert "LIVE" in paper_mismatch_warning(7497, ["DU1", "U2"])
    assert paper_mismatch_warning(4001, ["DU1", "U2"]) is None


def test_trading_status_uses_the_same_rule(orders):
    status = orders.trading_status("DU1")
    assert status.is_paper is True and status.allowed
    live = orders.trading_status("U2")
    assert live.is_paper is False and "LIVE" in live.reason


@pytest.mark.parametrize("spelling", ["brk b", " BRK.B ", "BRK  B", "brk.b", "BRK B"])
def test_the_spellings_that_used_to_differ_are_one_symbol(spelling):
    assert normalize_symbol(spelling) == "BRK B"


def test_history_keys_every_spelling_as_one_symbol():
    yahoo = FakeYahoo()
    service = HistoryService(yahoo, Settings(history_cache_ttl=300.0))
    for spelling in ("brk b", " BRK.B ", "BRK B"):
        service.bars(spelling, "5D")
    assert yahoo.calls == [("BRK B", "5D")]  # one fetch, in IBKR's spelling
