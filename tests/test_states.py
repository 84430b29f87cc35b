"""What the user is told about the session and each quote line, state by state.

Each state is produced by the simulator's fault control and read through the real
ib_async over a real socket: 2103 (data farm broken), 10197 (competing session), the
market close (frozen, with the last trade's own time), 1100 and the nightly restart.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ibkr_core.data_state import LineState, LinkState, quote_view
from ibkr_core.ibkr_market_data import IBKRQuoteProvider, market_data
from ibkr_core.quote import QuoteSource
from tests.conftest import wait_for

pytestmark = pytest.mark.timeout(40)


@pytest.fixture
def provider(connection):
    return IBKRQuoteProvider(connection)


def _quote(provider, symbol="AAPL"):
    return provider.fetch([symbol])[symbol]


def _streaming(provider, symbol="AAPL"):
    assert wait_for(lambda: _quote(provider, symbol).ok, 5)
    return _quote(provider, symbol)


def test_live_session_is_live_and_age_is_the_last_trade_time(provider, connection):
    q = _streaming(provider)
    view = connection.status().view
    assert view.state == LinkState.CONNECTED and view.live and view.label == "Connected"
    assert not connection.status().market_closed
    assert not view.notices
    qv = quote_view(q)
    assert qv.state == LineState.LIVE and qv.live and qv.source_text == "IBKR (live)"
    assert q.last_trade_time is not None and q.provider_time == q.last_trade_time
    assert abs(q.age_seconds()) < 5


def test_market_close_freezes_the_line_with_its_own_trade_time(gateway, provider, connection):
    _streaming(provider)
    gateway.close_market()
    assert wait_for(lambda: _quote(provider).line_state == LineState.FROZEN, 5)
    sim = gateway.quote("AAPL")
    q = _quote(provider)
    assert q.source == QuoteSource.IBKR_FROZEN and q.ok and q.last == sim.last
    # the quote's own time is the last trade, not the arrival of the frozen tick
    assert int(q.last_trade_time.timestamp()) == int(sim.last_time)
    qv = quote_view(q)
    assert not qv.live
    assert qv.source_text.startswith("IBKR (frozen, last ")
    local = q.last_trade_time.astimezone(__import__("zoneinfo").ZoneInfo("US/Eastern"))
    assert f"{local:%H:%M}" in qv.source_text  # in the exchange's own time zone
    view = connection.status().view
    assert view.market_closed and not view.live and view.label == "Connected · market closed"
    assert any("last values (frozen)" in n.message for n in view.notices)
    gateway.open_market()
    assert wait_for(lambda: _quote(provider).line_state == LineState.LIVE, 5)
    assert connection.status().view.live


def test_fresh_subscription_after_the_close_is_frozen_and_as_old_as_the_close(
    gateway, provider, connection
):
    gateway.close_market()
    closed_at = datetime.now(UTC)
    gateway.set_price("MSFT", 401.0)  # not a trade: the market is closed
    q = _streaming(provider, "MSFT")
    assert q.line_state == LineState.FROZEN
    assert "live" not in quote_view(q).source_text
    assert q.provider_time <= closed_at  # never "0 s ago" for the last close


def test_competing_session_says_no_data_and_what_to_do_and_stays_live_type(
    gateway, provider, connection
):
    _streaming(provider)
    gateway.competing_session(True)
    assert wait_for(lambda: connection.status().competing_session, 5)
    q = _quote(provider)
    assert not q.ok and q.line_state == LineState.COMPETING_SESSION
    qv = quote_view(q)
    assert qv.problem.startswith("no data: competing session")
    assert qv.status_text == "✖ No data: close the other session"
    assert qv.source_text == "IBKR (competing session)"
    assert "close the other session" in qv.problem
    view = connection.status().view
    assert not view.live and view.label == "No data: competing session"
    assert any(n.code == 10197 and "Close the other session" in n.advice for n in view.notices)
    # not treated as "not entitled": no silent switch to delayed data
    assert connection.status().market_data_type == 2
    assert market_data(connection).line_info("AAPL")["delayed_tried"] is False
    # a symbol subscribed during the competing session says the same
    assert wait_for(lambda: _quote(provider, "MSFT").line_state == LineState.COMPETING_SESSION)
    gateway.competing_session(False)
    assert wait_for(lambda: _quote(provider).ok and _quote(provider, "MSFT").ok, 5)
    assert quote_view(_quote(provider)).live
    assert wait_for(lambda: not connection.status().competing_session, 2)
    assert connection.status().view.live


def test_data_farm_broken_is_shown_with_the_farm_and_lines_are_not_live(
    gateway, provider, connection
):
    _streaming(provider)
    gateway.data_farm_broken()
    assert wait_for(lambda: connection.status().broken_farms, 5)
    view = connection.status().view
    assert view.label == "Data farm broken" and not view.live
    assert view.broken_farms == ("usfarm (market data)",)
    assert any(n.code == 2103 and "usfarm" in n.message for n in view.notices)
    q = _quote(provider)
    assert q.line_state == LineState.STALLED
    assert quote_view(q).source_text == "IBKR (not updating)"
    assert quote_view(q).status_text == "⚠ Not updating: data farm usfarm broken (2103)"
    gateway.data_farm_restored()
    assert wait_for(lambda: not connection.status().broken_farms, 5)
    assert connection.status().view.live
    assert quote_view(_quote(provider)).live


def test_hmds_farm_broken_names_the_history_farm_but_prices_stay_live(
    gateway, provider, connection
):
    _streaming(provider)
    gateway.data_farm_broken("hmds")
    assert wait_for(lambda: connection.status().broken_farms, 5)
    view = connection.status().view
    assert view.live and "historical data" in view.broken_farms[0]
    assert any(n.code == 2105 and "charts" in n.message for n in view.notices)
    assert quote_view(_quote(provider)).live


def test_1100_is_degraded_not_live_then_1102_live_again(gateway, provider, connection):
    _streaming(provider)
    gateway.emit_connectivity(1100)
    assert wait_for(lambda: connection.status().degraded, 5)
    view = connection.status().view
    assert view.state == LinkState.DEGRADED and not view.live
    assert any("orders may wait" in n.message for n in view.notices)
    assert _quote(provider).line_state == LineState.STALLED
    gateway.emit_connectivity(1102)
    assert wait_for(lambda: connection.status().view.live, 5)


def test_nightly_restart_degraded_then_reconnecting_then_live(gateway, provider, connection):
    _streaming(provider)
    seen: list[LinkState] = []
    connection.status_changed += lambda st: seen.append(st.view.state)
    gateway.nightly_restart(0.5)
    assert wait_for(lambda: LinkState.RECONNECTING in seen, 10)
    assert wait_for(lambda: connection.status().view.live, 15)
    assert seen.index(LinkState.DEGRADED) < seen.index(LinkState.RECONNECTING)
    assert wait_for(lambda: _quote(provider).ok, 5)
    assert quote_view(_quote(provider)).live


# ------------------------------------------------------------------ pure text
def test_trade_time_text_in_the_exchange_zone_with_the_day_when_not_today():
    from ibkr_core.data_state import trade_time_text

    friday_close = datetime(2026, 11, 27, 21, 0, tzinfo=UTC)  # 16:00 in New York
    monday = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    assert trade_time_text(friday_close, "US/Eastern", friday_close) == "16:00 EST"
    assert trade_time_text(friday_close, "US/Eastern", monday) == "Fri 16:00 EST"
    assert trade_time_text(friday_close, "Hongkong", friday_close) == "05:00 HKT"
    assert trade_time_text(friday_close, "Not/AZone", friday_close) == "21:00 UTC"


def test_10197_is_its_own_code_not_not_entitled():
    from ibkr_core.connection_errors import describe_error
    from ibkr_core.tws_codes import COMPETING_SESSION, NOT_ENTITLED_CODES, TWS_CODES

    assert COMPETING_SESSION == 10197 and 10197 not in NOT_ENTITLED_CODES
    assert "competing live session" in TWS_CODES[10197].meaning
    assert "another live session" in describe_error(10197)
    assert TWS_CODES[10197].advice.startswith("Close the other session")
