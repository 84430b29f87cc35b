"""The TWS codes we act on are named in one place, with IBKR's meaning."""

from __future__ import annotations

import pytest

from ibkr_core import tws_codes
from ibkr_core.connection_errors import describe_error
from ibkr_core.tws_codes import (
    CONNECTIVITY_BROKEN,
    CONNECTIVITY_RESTORED_DATA_KEPT,
    TWS_CODES,
    WARNING_CODES,
)
from tests.conftest import wait_for

pytestmark = pytest.mark.timeout(30)

_NAMED = {
    name: value
    for name, value in vars(tws_codes).items()
    if name.isupper() and isinstance(value, int)
}


@pytest.mark.parametrize("name", sorted(_NAMED))
def test_every_named_code_has_ibkrs_meaning_and_our_message(name):
    entry = TWS_CODES[_NAMED[name]]
    assert entry.meaning and entry.message
    assert describe_error(entry.code).startswith(entry.message)


def test_warning_codes_are_ibkrs_2100_range():
    assert 2100 in WARNING_CODES and 2199 in WARNING_CODES
    assert 2200 not in WARNING_CODES and 2099 not in WARNING_CODES
    assert CONNECTIVITY_BROKEN in WARNING_CODES


def test_2110_degrades_the_session_like_1100(gateway, connection):
    def emit(code: int, text: str) -> None:
        for session in gateway.gateway.sessions:
            session.error(-1, code, text)

    gateway.call(emit, CONNECTIVITY_BROKEN, "Connectivity between TWS and server is broken.")
    assert wait_for(lambda: connection.status().degraded, 2)
    assert connection.status().connectivity_message.startswith(
        TWS_CODES[CONNECTIVITY_BROKEN].message
    )
    gateway.call(emit, CONNECTIVITY_RESTORED_DATA_KEPT, "restored - data maintained")
    assert wait_for(lambda: not connection.status().degraded, 2)
