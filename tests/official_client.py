"""Drive the simulated gateway with IBKR's own Python client (`ibapi`), strictly.

Run as a script, in its own process, so that the `ibapi` on its path (9.81 from
site-packages, or IBKR's 10.x as published in nautilus_ibapi, put first on PYTHONPATH)
is the only one imported:

    python tests/official_client.py PORT CLIENT_ID [--max-version N]

Every message the gateway sends is decoded by IBKR's decoder with a check the decoder
lacks: a message that has fields left over after decoding, or too few fields, is a
failure (IBKR's own client reads past the end silently or logs and drops it). The run
places orders and requests data, then prints one JSON object of what it saw.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from ibapi import client as ib_client
from ibapi import decoder as ib_decoder
from ibapi.contract import Contract
from ibapi.execution import ExecutionFilter
from ibapi.order import Order
from ibapi.wrapper import EWrapper

FAILURES: list[str] = []
VERSION = [0]  # the negotiated server version, once known


class _Counted:
    """An iterator over one message's fields that remembers how far decoding got."""

    def __init__(self, fields: Iterator[Any]) -> None:
        self._it = fields

    def __iter__(self) -> _Counted:
        return self

    def __next__(self) -> Any:
        return next(self._it)

    def leftover(self) -> list[str]:
        return [f.decode(errors="replace") if isinstance(f, bytes) else str(f) for f in self._it]


def _strict(msg_id: int, proc: Callable[..., None]) -> Callable[..., None]:
    def run(decoder: Any, fields: Iterator[Any]) -> None:
        counted = _Counted(fields)
        try:
            proc(decoder, counted)
        except Exception as exc:  # missing fields: BadMessage / StopIteration / ValueError
            FAILURES.append(f"message {msg_id}: {type(exc).__name__}: {exc}")
            raise
        rest = counted.leftover()
        if rest:
            FAILURES.append(f"message {msg_id}: {len(rest)} fields left over: {rest[:8]}")

    return run


def make_strict() -> None:
    for msg_id, info in ib_decoder.Decoder.msgId2handleInfo.items():
        if info.processMeth is not None:
            info.processMeth = _strict(msg_id, info.processMeth)

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.ERROR:
                FAILURES.append(f"decoder: {record.getMessage()[:300]}")

    logging.getLogger(ib_decoder.__name__).addHandler(Catch())


def cap_versions(max_version: int | None) -> None:
    if max_version is not None:
        ib_client.MAX_CLIENT_VER = max_version  # the handshake says v100..max_version


class App(EWrapper, ib_client.EClient):
    def __init__(self) -> None:
        EWrapper.__init__(self)
        ib_client.EClient.__init__(self, self)
        self.next_id: int | None = None
        self.errors: list[list[Any]] = []
        self.statuses: dict[int, list[list[Any]]] = {}
        self.open_states: dict[int, list[str]] = {}
        self.open_order_ids: list[int] = []
        self.executions: list[dict[str, Any]] = []
        self.commissions: list[dict[str, Any]] = []
        self.sequence: list[str] = []
        self.done: set[str] = set()
        self.prices: dict[int, float] = {}
        self.sizes: dict[int, float] = {}
        self.details: list[dict[str, Any]] = []
        self.bars = 0
        self.account_values = 0
        self.portfolio = 0
        self.positions = 0
        self.summary = 0
        self.pnl_values: list[float | None] = []
        self.symbols = 0
        self.head = ""

    def error(self, *args: Any) -> None:
        # 9.81: (reqId, code, text); 10.19: (..., json); 10.46: (reqId, time, code, text, json)
        req_id, rest = args[0], list(args[1:])
        if len(rest) >= 3 and isinstance(rest[1], int):
            rest = rest[1:]  # 10.46 passes errorTime (ms, 0 below 194) second
        code, text = rest[0], rest[1]
        self.errors.append([req_id, int(code), str(text)])
        self.sequence.append(f"error:{req_id}:{code}")

    def nextValidId(self, orderId: int) -> None:
        self.next_id = orderId

    def tickPrice(self, reqId, tickType, price, attrib) -> None:
        self.prices[int(tickType)] = float(price)

    def tickSize(self, reqId, tickType, size) -> None:
        self.sizes[int(tickType)] = float(size)

    def contractDetails(self, reqId, contractDetails) -> None:
        c = contractDetails.contract
        self.details.append(
            {
                "conId": c.conId,
                "symbol": c.symbol,
                "primaryExchange": c.primaryExchange,
                "minTick": contractDetails.minTick,
                "longName": contractDetails.longName,
                "stockType": getattr(contractDetails, "stockType", ""),
                "marketRuleIds": getattr(contractDetails, "marketRuleIds", ""),
            }
        )

    def contractDetailsEnd(self, reqId) -> None:
        self.done.add("details")

    def historicalData(self, reqId, bar) -> None:
        self.bars += 1

    def historicalDataEnd(self, reqId, start, end) -> None:
        self.done.add("history")

    def updateAccountValue(self, key, val, currency, accountName) -> None:
        self.account_values += 1

    def updatePortfolio(self, contract, *args) -> None:
        self.portfolio += 1

    def accountDownloadEnd(self, accountName) -> None:
        self.done.add("account")

    def position(self, account, contract, position, avgCost) -> None:
        self.positions += 1

    def positionEnd(self) -> None:
        self.done.add("positions")

    def accountSummary(self, reqId, account, tag, value, currency) -> None:
        self.summary += 1

    def accountSummaryEnd(self, reqId) -> None:
        self.done.add("summary")

    def pnl(self, reqId, dailyPnL, unrealizedPnL=None, realizedPnL=None) -> None:
        self.pnl_values = [dailyPnL, unrealizedPnL, realizedPnL]
        self.done.add("pnl")

    def symbolSamples(self, reqId, contractDescriptions) -> None:
        self.symbols = len(contractDescriptions)
        self.done.add("symbols")

    def headTimestamp(self, reqId, headTimestamp) -> None:
        self.head = headTimestamp
        self.done.add("head")

    def openOrder(self, orderId, contract, order, orderState) -> None:
        self.open_states.setdefault(orderId, []).append(orderState.status)
        self.open_order_ids.append(orderId)
        self.sequence.append(f"openOrder:{orderId}:{orderState.status}")

    def openOrderEnd(self) -> None:
        self.done.add("openOrderEnd")

    def orderStatus(self, orderId, status, filled, remaining, *rest) -> None:
        self.statuses.setdefault(orderId, []).append([status, float(filled), float(remaining)])
        self.sequence.append(f"orderStatus:{orderId}:{status}")

    def execDetails(self, reqId, contract, execution) -> None:
        self.executions.append(
            {
                "reqId": reqId,
                "orderId": execution.orderId,
                "shares": float(execution.shares),
                "price": execution.price,
                "side": execution.side,
                "execId": execution.execId,
            }
        )
        self.sequence.append(f"execDetails:{execution.orderId}")

    def execDetailsEnd(self, reqId) -> None:
        self.done.add("executions")

    def commissionReport(self, commissionReport) -> None:
        self._commission(commissionReport)

    def commissionAndFeesReport(self, commissionAndFeesReport) -> None:
        self._commission(commissionAndFeesReport)

    def _commission(self, report: Any) -> None:
        amount = getattr(report, "commission", None)
        if amount is None:
            amount = report.commissionAndFees
        self.commissions.append(
            {"execId": report.execId, "commission": amount, "realizedPNL": report.realizedPNL}
        )
        self.sequence.append("commission")

    def completedOrdersEnd(self) -> None:
        self.done.add("completed")


def wait(check: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def stock(symbol: str) -> Contract:
    c = Contract()
    c.symbol, c.secType, c.exchange, c.currency = symbol, "STK", "SMART", "USD"
    return c


def order(action: str, qty: float, order_type: str = "MKT", lmt: float | None = None) -> Order:
    o = Order()
    o.action, o.totalQuantity, o.orderType = action, qty, order_type
    if lmt is not None:
        o.lmtPrice = lmt
    # 10.x defaults these to True, which TWS refuses; 9.81 defaults cashQty to 0.0, which
    # its own client refuses to send below MIN_SERVER_VER_CASH_QTY.
    o.eTradeOnly = False
    o.firmQuoteOnly = False
    if VERSION[0] < 111:  # MIN_SERVER_VER_CASH_QTY: both clients refuse a truthy cashQty
        o.cashQty = 0.0
    return o


def scenario(app: App, v: int) -> dict[str, Any]:
    VERSION[0] = v
    app.reqCurrentTime()
    app.reqContractDetails(1, stock("AAPL"))
    wait(lambda: "details" in app.done)
    app.reqMktData(2, stock("AAPL"), "", False, False, [])
    wait(lambda: {1, 2, 4} <= app.prices.keys() and {0, 3} <= app.sizes.keys())
    app.reqHistoricalData(3, stock("SPY"), "", "1 D", "1 hour", "TRADES", 1, 1, False, [])
    wait(lambda: "history" in app.done)
    app.reqAccountUpdates(True, "")
    app.reqPositions()
    app.reqAccountSummary(4, "All", "NetLiquidation,TotalCashValue,BuyingPower")
    wait(lambda: {"account", "positions", "summary"} <= app.done)
    if v >= 108:  # MIN_SERVER_VER_REQ_MATCHING_SYMBOLS
        app.reqMatchingSymbols(5, "MS")
        wait(lambda: "symbols" in app.done)
    if v >= 118:  # MIN_SERVER_VER_REQ_HEAD_TIMESTAMP
        app.reqHeadTimeStamp(6, stock("AAPL"), "TRADES", 1, 1)
        wait(lambda: "head" in app.done)
    if v >= 127:  # MIN_SERVER_VER_PNL
        app.reqPnL(7, "", "")
        wait(lambda: "pnl" in app.done)
    assert app.next_id is not None
    market_id, limit_id, what_if_id = app.next_id, app.next_id + 1, app.next_id + 2
    app.placeOrder(market_id, stock("KO"), order("BUY", 10))
    wait(lambda: [s[0] for s in app.statuses.get(market_id, [])][-1:] == ["Filled"])
    wait(lambda: len(app.commissions) >= 1, 2)
    app.placeOrder(limit_id, stock("JPM"), order("BUY", 3, "LMT", 1.0))
    wait(lambda: any(s[0] == "Submitted" for s in app.statuses.get(limit_id, [])))
    cancel_order(app, limit_id)
    wait(lambda: any(e[0] == limit_id and e[1] == 202 for e in app.errors))
    preview = order("BUY", 5)
    preview.whatIf = True
    app.placeOrder(what_if_id, stock("NVDA"), preview)
    wait(lambda: what_if_id in app.open_states)
    app.reqOpenOrders()
    wait(lambda: "openOrderEnd" in app.done)
    app.done.discard("openOrderEnd")
    app.reqAllOpenOrders()
    wait(lambda: "openOrderEnd" in app.done)
    app.reqExecutions(8, ExecutionFilter())
    wait(lambda: "executions" in app.done)
    if v >= 150:  # MIN_SERVER_VER_COMPLETED_ORDERS
        app.reqCompletedOrders(False)
        wait(lambda: "completed" in app.done)
    time.sleep(0.3)
    return {
        "version": app.serverVersion(),
        "failures": FAILURES,
        "errors": app.errors,
        "statuses": {str(k): v for k, v in app.statuses.items()},
        "open_states": {str(k): v for k, v in app.open_states.items()},
        "executions": app.executions,
        "commissions": app.commissions,
        "sequence": app.sequence,
        "done": sorted(app.done),
        "prices": app.prices,
        "sizes": app.sizes,
        "details": app.details,
        "bars": app.bars,
        "account_values": app.account_values,
        "portfolio": app.portfolio,
        "positions": app.positions,
        "summary": app.summary,
        "pnl": app.pnl_values,
        "symbols": app.symbols,
        "head": app.head,
        "ids": [market_id, limit_id, what_if_id],
    }


def cancel_order(app: App, order_id: int) -> None:
    """cancelOrder(orderId) in 9.81, (orderId, manualCancelOrderTime) in 10.19,
    (orderId, OrderCancel) in 10.46."""
    import inspect

    params = list(inspect.signature(ib_client.EClient.cancelOrder).parameters)
    if "orderCancel" in params:
        from ibapi.order_cancel import OrderCancel

        app.cancelOrder(order_id, OrderCancel())
    elif len(params) > 2:
        app.cancelOrder(order_id, "")
    else:
        app.cancelOrder(order_id)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("client_id", type=int)
    parser.add_argument("--max-version", type=int)
    args = parser.parse_args()
    make_strict()
    cap_versions(args.max_version)
    app = App()
    app.connect("127.0.0.1", args.port, args.client_id)
    reader = threading.Thread(target=app.run, daemon=True)
    reader.start()
    try:
        if not wait(lambda: app.next_id is not None, 5):
            result: dict[str, Any] = {"version": app.serverVersion(), "failures": FAILURES}
            result["errors"] = app.errors
        else:
            result = scenario(app, app.serverVersion())
    finally:
        app.disconnect()
        reader.join(3)
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
