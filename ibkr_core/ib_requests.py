"""One request path to IBKR: reqId -> future, that request's TWS error, timeout, cancel.

Why this exists: ib_async ends a request's future on most TWS errors with an empty
answer and nothing else, and on some ("warnings" to it: 321, 110, 2100-2199, ...) not at
all, so the caller waits out its timeout without learning why. Its own switch for that,
``IB.RaiseRequestErrors``, does not do the job here: it is one flag for the whole ``IB``
(turning it on changes every request's failure mode, e.g. the contract lookups that read
an unknown symbol from an empty answer), and it still skips the warnings. So the
connection, the what-if preview and the chart history each used to add an
``errorEvent`` listener, a future and a wait by hand, reaching into ``ib.wrapper`` and
``ib.client``. This module is the one place that does it:

- ``request`` takes a reqId, registers the answer's future with ib_async, sends, and
  waits for the first of: the answer; a TWS error for *that* reqId (raised as
  ``RequestFailedError``: code, IBKR's text, our plain message); the timeout
  (``RequestTimeoutError``, a ``TimeoutError``). The error listener is always removed,
  and a request that IBKR can cancel is cancelled when its wait ends without an answer
  (timeout, or the awaiting task cancelled).
- ``watch_errors`` is the listener part alone, for waits that are not one request (the
  connect handshake's 326 / closed socket).
- the few reads of ib_async state it has no public reader for (account summary rows,
  the ticker of a reqId, the arrival time of the current message) live here too, so
  nothing else in ``ibkr_core`` touches ``ib.wrapper``.

Everything here runs on the loop thread (see ``loop_thread``).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ib_async import IB, AccountValue, BarData, Contract, ContractDetails, Order

from ibkr_core.connection_errors import IBKRError, describe_error
from ibkr_core.tws_codes import WARNING_CODES, advice

__all__ = [
    "RequestFailedError",
    "RequestTimeoutError",
    "TwsError",
    "account_summary_values",
    "contract_details",
    "historical_bars",
    "message_time",
    "request",
    "ticker_of",
    "watch_errors",
    "what_if",
]


@dataclass(frozen=True, slots=True)
class TwsError:
    """One TWS error message as ib_async's ``errorEvent`` delivers it."""

    req_id: int
    code: int
    text: str  # IBKR's own text

    @property
    def message(self) -> str:
        """Our plain message for it (``connection_errors.describe_error``)."""
        return describe_error(self.code, self.text)

    @property
    def advice(self) -> str:
        """What the user can do about it ("" when nothing), from ``tws_codes``."""
        return advice(self.code)


class RequestFailedError(IBKRError):
    """TWS answered one request with an error; ``str()`` is the plain message."""

    def __init__(self, error: TwsError, what: str) -> None:
        super().__init__(error.message)
        self.error = error
        self.what = what  # "preview", "historical data", ...

    @property
    def code(self) -> int:
        return self.error.code

    @property
    def text(self) -> str:
        return self.error.text

    @property
    def message(self) -> str:
        return self.error.message

    @property
    def advice(self) -> str:
        return self.error.advice


class RequestTimeoutError(TimeoutError):
    def __init__(self, what: str, timeout: float) -> None:
        super().__init__(f"TWS did not answer the {what} within {timeout:g} s")
        self.what = what
        self.timeout = timeout


@contextlib.contextmanager
def watch_errors(
    ib: IB,
    fails: Callable[[TwsError], BaseException | None],
    *,
    api_error: Callable[[str], BaseException | None] | None = None,
) -> Iterator[asyncio.Future[None]]:
    """A future failed with ``fails(error)`` for the first TWS error it returns an
    exception for (``api_error(text)`` likewise for ib_async's client-level errors, e.g.
    a socket the gateway closed). The listeners are removed on leaving, however left."""
    failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def fail(exc: BaseException | None) -> None:
        if exc is not None and not failed.done():
            failed.set_exception(exc)

    def on_error(req_id: int, code: int, text: str, _contract: Any) -> None:
        if not failed.done():
            fail(fails(TwsError(req_id, code, text)))

    def on_api_error(text: str) -> None:
        if api_error is not None and not failed.done():
            fail(api_error(text))

    ib.errorEvent += on_error
    if api_error is not None:
        ib.client.apiError += on_api_error
    try:
        yield failed
    finally:
        ib.errorEvent -= on_error
        if api_error is not None:
            ib.client.apiError -= on_api_error
        if not failed.done():
            failed.cancel()
        elif not failed.cancelled():
            failed.exception()  # mark retrieved


async def request(
    ib: IB,
    send: Callable[[int], None],
    *,
    what: str,
    timeout: float,
    contract: Contract | None = None,
    cancel: Callable[[int], None] | None = None,
    ignore: Container[int] = WARNING_CODES,
) -> Any:
    """Send one request (``send(req_id)``) and return ib_async's answer for it.

    Raises ``RequestFailedError`` for a TWS error with this reqId (codes in ``ignore``
    aside: by default IBKR's 2100-2199 warnings, e.g. 2174 on a history request) and
    ``RequestTimeoutError`` after ``timeout``; on a timeout or cancellation
    ``cancel(req_id)`` tells IBKR to stop (where it has a cancel for the request)."""
    req_id = ib.client.getReqId()
    answer = ib.wrapper.startReq(req_id, contract)

    def fails(error: TwsError) -> BaseException | None:
        if error.req_id == req_id and error.code not in ignore:
            return RequestFailedError(error, what)
        return None

    answered = False
    with watch_errors(ib, fails) as failed:
        try:
            send(req_id)
            done, _ = await asyncio.wait(
                {answer, failed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if failed in done:
                answered = True  # TWS ended the request itself: nothing to cancel
                failed.result()
            if answer not in done:
                raise RequestTimeoutError(what, timeout)
            answered = True
            return answer.result()
        finally:
            if not answer.done():
                answer.cancel()  # a late answer is dropped by ib_async
            if not answered and cancel is not None and ib.isConnected():
                with contextlib.suppress(Exception):
                    cancel(req_id)


# -- the requests ibkr_core sends this way -------------------------------------------------
async def contract_details(ib: IB, contract: Contract, timeout: float) -> list[ContractDetails]:
    """``reqContractDetails``; 200 (no such contract) is a ``RequestFailedError``."""

    def send(req_id: int) -> None:
        ib.client.reqContractDetails(req_id, contract)

    return list(
        await request(ib, send, what="contract details", timeout=timeout, contract=contract)
    )


async def historical_bars(
    ib: IB,
    contract: Contract,
    *,
    duration: str,
    bar_size: str,
    what_to_show: str,
    timeout: float,
    use_rth: bool = True,
    format_date: int = 2,
) -> list[BarData]:
    """``reqHistoricalData`` ending now (162 / 321 ... are ``RequestFailedError``);
    cancelled at IBKR when the wait ends without an answer."""

    def send(req_id: int) -> None:
        ib.client.reqHistoricalData(
            req_id, contract, "", duration, bar_size, what_to_show, use_rth, format_date, False, []
        )

    answer = await request(
        ib,
        send,
        what="historical data",
        timeout=timeout,
        contract=contract,
        cancel=ib.client.cancelHistoricalData,
    )
    return list(answer or [])


async def what_if(
    ib: IB, contract: Contract, order: Order, timeout: float, *, ignore: Container[int]
) -> Any:
    """A what-if ``placeOrder`` (nothing is placed): the ``OrderState`` ib_async answers,
    or ``[]`` when it ended the request without one."""
    preview = copy.copy(order)
    preview.whatIf = True

    def send(req_id: int) -> None:
        ib.client.placeOrder(req_id, contract, preview)

    return await request(
        ib, send, what="preview", timeout=timeout, contract=contract, ignore=ignore
    )


# -- ib_async state without a public non-blocking reader -------------------------------
def account_summary_values(ib: IB) -> list[AccountValue]:
    """The account summary rows received so far (``reqAccountSummary``), without asking:
    ``IB.accountSummaryAsync`` sends a new request whenever there are none."""
    return list(ib.wrapper.acctSummary.values())


def ticker_of(ib: IB, req_id: int) -> Any:
    """The market-data ticker a reqId belongs to (None if it is not a ticker's)."""
    return ib.wrapper.reqId2Ticker.get(req_id)


def message_time(ib: IB) -> datetime | None:
    """When the TCP batch being handled arrived (ib_async's ``lastTime``)."""
    return ib.wrapper.lastTime
