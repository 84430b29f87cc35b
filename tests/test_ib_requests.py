"""The one request path (ibkr_core/ib_requests.py) against the simulated gateway, with the
real ib_async client: a request's TWS error fails that request only, with its code,
IBKR's text and our plain message; a timeout or a cancelled wait leaves no listener
behind and cancels at IBKR where IBKR has a cancel."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from ib_async import IB, Contract, Stock

from ibkr_core import ib_requests
from ibkr_core.connection_errors import describe_error
from ibkr_core.ib_requests import RequestFailedError, RequestTimeoutError
from ibkr_core.simulator import BackgroundGateway
from tests.import_graph import REPO
from tests.sim_support import connected, run, wait_until

pytestmark = pytest.mark.timeout(30)


async def _aapl(ib: IB) -> Contract:
    details = await ib_requests.contract_details(ib, Stock("AAPL", "SMART", "USD"), 4)
    return details[0].contract


def _bars(ib: IB, contract: Contract, bar_size: str, duration: str, timeout: float = 4) -> Any:
    return ib_requests.historical_bars(
        ib, contract, duration=duration, bar_size=bar_size, what_to_show="TRADES", timeout=timeout
    )


def _record_cancels(ib: IB) -> list[int]:
    """The reqIds ib_async's client is asked to cancel history for (the message still goes
    out: the gateway gets it)."""
    cancelled: list[int] = []
    send = ib.client.cancelHistoricalData

    def cancel(req_id: int) -> None:
        cancelled.append(req_id)
        send(req_id)

    ib.client.cancelHistoricalData = cancel  # type: ignore[method-assign]
    return cancelled


def test_unknown_contract_fails_that_request_while_a_concurrent_one_succeeds(gateway):
    async def scenario() -> None:
        ib = await connected(gateway)
        try:
            listeners = len(ib.errorEvent)
            unknown, known = await asyncio.gather(
                ib_requests.contract_details(ib, Stock("ZZZZ", "SMART", "USD"), 4),
                ib_requests.contract_details(ib, Stock("AAPL", "SMART", "USD"), 4),
                return_exceptions=True,
            )
            assert isinstance(unknown, RequestFailedError)
            assert unknown.code == 200
            assert unknown.text == "No security definition has been found for the request"
            assert unknown.message == describe_error(200, unknown.text) == str(unknown)
            assert str(unknown).startswith("Unknown symbol: no security definition found")
            assert [d.contract.symbol for d in known] == ["AAPL"]
            assert len(ib.errorEvent) == listeners
        finally:
            ib.disconnect()

    run(scenario())


@pytest.mark.parametrize(
    ("bar_size", "duration", "code", "plain"),
    [
        ("7 mins", "1 D", 321, "Request rejected by TWS"),  # ib_async's "warning": no answer
        ("1 secs", "1 Y", 162, "Historical data request failed"),  # too many bars
    ],
)
def test_rejected_history_fails_that_request_while_a_concurrent_one_succeeds(
    gateway, bar_size, duration, code, plain
):
    async def scenario() -> None:
        ib = await connected(gateway)
        try:
            contract = await _aapl(ib)
            cancelled = _record_cancels(ib)
            refused, bars = await asyncio.gather(
                _bars(ib, contract, bar_size, duration),
                _bars(ib, contract, "1 day", "1 M"),
                return_exceptions=True,
            )
            assert isinstance(refused, RequestFailedError)
            assert refused.code == code and refused.what == "historical data"
            assert refused.text and refused.message == describe_error(code, refused.text)
            assert str(refused).startswith(plain)
            assert bars and all(b.close > 0 for b in bars)
            assert cancelled == []  # TWS ended the refused request itself
        finally:
            ib.disconnect()

    run(scenario())


@dataclass
class _SlowGateway:
    ib: IB
    contract: Contract
    cancelled: list[int]  # reqIds whose history was cancelled at IBKR
    listeners: int  # errorEvent handlers before the request


@contextlib.asynccontextmanager
async def _slow(gateway: BackgroundGateway) -> AsyncIterator[_SlowGateway]:
    """A session whose gateway answers everything a second late."""
    ib = await connected(gateway)
    try:
        slow = _SlowGateway(ib, await _aapl(ib), _record_cancels(ib), len(ib.errorEvent))
        gateway.set_response_delay(1.0)
        yield slow
    finally:
        gateway.set_response_delay(0)
        ib.disconnect()


def test_timeout_is_a_clear_timeout_error_and_leaves_no_listener(gateway: BackgroundGateway):
    async def scenario() -> None:
        async with _slow(gateway) as slow:
            with pytest.raises(RequestTimeoutError) as caught:
                await _bars(slow.ib, slow.contract, "1 day", "1 M", timeout=0.2)
            assert isinstance(caught.value, TimeoutError)
            assert str(caught.value) == "TWS did not answer the historical data within 0.2 s"
            assert len(slow.ib.errorEvent) == slow.listeners
            assert len(slow.cancelled) == 1  # history has a cancel: IBKR is told to stop

    run(scenario())


def test_cancelling_the_awaiting_task_removes_the_listener(gateway: BackgroundGateway):
    async def scenario() -> None:
        async with _slow(gateway) as slow:
            ib = slow.ib
            task = asyncio.ensure_future(_bars(ib, slow.contract, "1 day", "1 M", timeout=10))
            assert await wait_until(lambda: len(ib.errorEvent) == slow.listeners + 1, 2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert len(ib.errorEvent) == slow.listeners
            assert len(slow.cancelled) == 1

    run(scenario())


def test_watch_errors_removes_its_listeners_however_left(gateway):
    async def scenario() -> None:
        ib = await connected(gateway)
        try:
            errors, api_errors = len(ib.errorEvent), len(ib.client.apiError)

            def unknown(error: ib_requests.TwsError) -> BaseException | None:
                return LookupError(error.code) if error.code == 200 else None

            with (
                pytest.raises(LookupError, match="200"),
                ib_requests.watch_errors(ib, unknown, api_error=lambda _text: None) as failed,
            ):
                watching = (len(ib.errorEvent), len(ib.client.apiError))
                assert watching == (errors + 1, api_errors + 1)
                asking = ib.reqContractDetailsAsync(Stock("ZZZZ", "SMART", "USD"))  # 200
                await asyncio.wait_for(failed, 4)
            assert await asking == []
            assert (len(ib.errorEvent), len(ib.client.apiError)) == (errors, api_errors)
        finally:
            ib.disconnect()

    run(scenario())


def test_nothing_but_ib_requests_reaches_into_ib_async_internals():
    internals = re.compile(r"\.wrapper\.|getReqId|startReq")
    found = [
        str(path.relative_to(REPO))
        for folder in ("ibkr_core", "pages")
        for path in (REPO / folder).rglob("*.py")
        if "simulator" not in path.parts and internals.search(path.read_text())
    ]
    assert found == ["ibkr_core/ib_requests.py"]
