"""One connected API client: the handshake, request dispatch and what it subscribed to.

The session turns requests into calls on the gateway's market, account and order
state, and turns that state into messages (messages.py) at the negotiated version.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from . import messages as msg
from . import protocol as pv
from .faults import COMPETING_SESSION, HMDS_DOWN
from .market import HistoricalDataError
from .matching import Commission, Execution, SimOrder
from .notices import (
    FARM_NOTICES,
    READ_ERROR,
    TEXT_AMBIGUOUS,
    TEXT_CLIENT_ID_IN_USE,
    TEXT_DELAYED_NOT_ENABLED,
    TEXT_DISPLAYING_DELAYED,
    TEXT_MAX_TICKERS,
    TEXT_NO_SECURITY,
    TEXT_NOT_SUBSCRIBED,
    TEXT_READ_ERROR,
    TEXT_VALIDATE_ERROR,
    VALIDATE_ERROR,
)
from .protocol import LIVE_TO_DELAYED, MAX_SERVER_VERSION, MIN_SERVER_VERSION, In, Tick
from .protocol import MarketDataType as MDT
from .requests import (
    ContractSpec,
    FieldReader,
    NotSimulated,
    parse_cancel_order,
    parse_contract_details,
    parse_executions,
    parse_historical,
    parse_mkt_data,
    parse_place_order,
)
from .universe import EASTERN, Instrument, with_hours
from .wire import FrameReader, ProtocolError, encode_message

if TYPE_CHECKING:
    from .gateway import SimulatedGateway

log = logging.getLogger(__name__)

Handler = Callable[["ClientSession", FieldReader], None]
# Requests IBKR's EClient sends without a version field (their id follows the message id).
NO_VERSION_FIELD = frozenset(
    {
        In.REQ_PNL,
        In.CANCEL_PNL,
        In.REQ_PNL_SINGLE,
        In.CANCEL_PNL_SINGLE,
        In.REQ_MATCHING_SYMBOLS,
        In.REQ_HEAD_TIMESTAMP,
        In.CANCEL_HEAD_TIMESTAMP,
        In.REQ_COMPLETED_ORDERS,
    }
)


def ib_time(epoch: float) -> str:
    """'20261128 09:30:00 US/Eastern', the datetime format TWS uses in messages."""
    return datetime.fromtimestamp(epoch, EASTERN).strftime("%Y%m%d %H:%M:%S") + " US/Eastern"


@dataclass
class MarketDataLine:
    """One reqMktData subscription and the values last sent on it (ticks are diffs)."""

    req_id: int
    instrument: Instrument
    data_type: int  # what is reported: 1 live, 2 frozen, 3 delayed, 4 delayed frozen
    sent: dict[int, tuple[float, float]] = field(default_factory=dict)
    size_of: Callable[[float], object] = msg.plain_size  # see messages.size_encoder

    @property
    def delayed(self) -> bool:
        return self.data_type in (MDT.DELAYED, MDT.DELAYED_FROZEN)

    @property
    def streaming(self) -> bool:
        return self.data_type in (MDT.LIVE, MDT.DELAYED)


class ClientSession:
    """Serves one socket. All methods run on the gateway's event loop."""

    def __init__(
        self,
        gateway: SimulatedGateway,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.gateway = gateway
        self.reader = reader
        self.writer = writer
        self.frames = FrameReader()
        self.server_version = 0
        self.client_id: int | None = None
        self.market_data_type = MDT.LIVE
        self.lines: dict[int, MarketDataLine] = {}
        self.account_updates = False
        self.positions_subscribed = False
        self.summary_requests: dict[int, str] = {}
        self.account_multi_requests: dict[int, str] = {}  # reqId -> model code
        self.account_multi_accounts: dict[int, str] = {}  # reqId -> account
        self.account_updates_account = ""
        self.pnl_requests: dict[int, str] = {}
        self.pnl_single_requests: dict[int, int] = {}
        self.pnl_single_accounts: dict[int, str] = {}
        self.auto_open_orders = False  # reqAutoOpenOrders(True) from client 0
        self._outbox: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
        self.writer_task: asyncio.Task | None = None
        self.closed = False
        self._closing: asyncio.Future | None = None

    # --- socket -------------------------------------------------------------------------

    async def serve(self) -> None:
        self.writer_task = asyncio.create_task(self._write_loop())
        try:
            while not self.closed:
                data = await self.reader.read(65536)
                if not data:
                    break
                self.frames.feed(data)
                if not self.frames.handshake_done:
                    hello = self.frames.read_hello()
                    if hello is None:
                        continue
                    self._answer_hello(hello.min_version, hello.max_version)
                for fields in self.frames.messages():
                    self._dispatch(fields)
        except ProtocolError as exc:
            log.warning("client %s: protocol error: %s", self.client_id, exc)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            await self.close()

    def send(self, fields: list) -> None:
        if self.closed:
            return
        due = time.monotonic() + self.gateway.response_delay
        self._outbox.put_nowait((due, encode_message(fields)))

    async def _write_loop(self) -> None:
        while (item := await self._outbox.get()) is not None:
            due, data = item
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if self.writer.is_closing():
                return
            self.writer.write(data)
            if self._outbox.empty():
                try:
                    await self.writer.drain()
                except ConnectionError:
                    return

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.gateway.session_closed(self)
        self._outbox.put_nowait(None)
        if self.writer_task:
            try:
                await asyncio.wait_for(self.writer_task, 1.0)
            except (TimeoutError, asyncio.CancelledError):
                self.writer_task.cancel()
        self.writer.close()

    def abort(self) -> None:
        """Drop the socket at once, like a gateway that went away."""
        self.closed = True
        self.gateway.session_closed(self)
        self._outbox.put_nowait(None)
        transport = self.writer.transport
        if transport is not None:
            transport.abort()

    def error(self, req_id: int, code: int, text: str, advanced_json: str = "") -> None:
        self.send(msg.error(self.server_version, req_id, code, text, advanced_json))

    # --- handshake ----------------------------------------------------------------------

    def _answer_hello(self, client_min: int, client_max: int) -> None:
        version = min(client_max, MAX_SERVER_VERSION)
        if version < max(client_min, MIN_SERVER_VERSION):
            raise ProtocolError(f"no common version with v{client_min}..{client_max}")
        self.server_version = version
        now = self.gateway.now()
        connection_time = datetime.fromtimestamp(now, EASTERN).strftime("%Y%m%d %H:%M:%S EST")
        # The one message of the handshake: exactly two fields.
        self.send([version, connection_time])

    def _start_api(self, r: FieldReader) -> None:
        r.skip()  # version
        client_id = r.int()
        if self.gateway.client_id_in_use(client_id):
            self.error(-1, 326, TEXT_CLIENT_ID_IN_USE)
            # TWS closes the socket right after saying so; close() flushes the error first.
            self._closing = asyncio.ensure_future(self.close())
            return
        self.client_id = client_id
        self.gateway.session_started(self)
        self.send(msg.managed_accounts(self.gateway.account_ids()))
        self.send(msg.next_valid_id(self.gateway.next_order_id()))
        for code, text in FARM_NOTICES:
            self.error(-1, code, text)

    # --- dispatch -----------------------------------------------------------------------

    def _dispatch(self, fields: list[str]) -> None:
        try:
            msg_id = int(fields[0])
        except (ValueError, IndexError):
            raise ProtocolError(f"bad message id in {fields[:3]!r}") from None
        r = FieldReader(fields[1:])
        if msg_id == In.START_API:
            self._start_api(r)
            return
        if self.client_id is None:
            raise ProtocolError(f"request {msg_id} before START_API")
        handler = self.HANDLERS.get(msg_id)
        if handler is None:
            log.info("client %s: request %s is not simulated", self.client_id, msg_id)
            return
        try:
            handler(self, r)
        except NotSimulated as exc:
            # Well formed but beyond this simulator: answered as a request TWS cannot
            # validate (321); the session goes on.
            log.info("client %s: request %s: %s", self.client_id, msg_id, exc)
            text = TEXT_VALIDATE_ERROR.format(tag="sim", cause=str(exc))
            self.error(self._request_id(msg_id, fields), VALIDATE_ERROR, text)
        except (ProtocolError, ValueError, IndexError) as exc:
            # Unreadable: TWS's 320, with a logged reason; the session goes on.
            log.warning(
                "client %s: unreadable request %s %r: %s", self.client_id, msg_id, fields[:6], exc
            )
            self.error(self._request_id(msg_id, fields), READ_ERROR, f"{TEXT_READ_ERROR} {exc}")

    def _request_id(self, msg_id: int, fields: list[str]) -> int:
        """The id an error about this request is sent under (-1 when it cannot be told):
        the order id for PLACE_ORDER, the request id for the others that carry one."""
        has_version = msg_id not in NO_VERSION_FIELD
        if msg_id == In.PLACE_ORDER:
            has_version = self.server_version < pv.MIN_SERVER_VER_ORDER_CONTAINER
        elif msg_id == In.REQ_HISTORICAL_DATA:
            has_version = self.server_version < pv.MIN_SERVER_VER_SYNT_REALTIME_BARS
        index = 2 if has_version else 1
        try:
            return int(fields[index])
        except (IndexError, ValueError):
            return -1

    def _resolve(self, req_id: int, spec: ContractSpec) -> Instrument | None:
        found = self.gateway.resolve(spec)
        if len(found) == 1:
            return found[0]
        if found:
            self.error(req_id, 200, TEXT_AMBIGUOUS.format(name=spec.describe()))
        else:
            self.error(req_id, 200, TEXT_NO_SECURITY)
        return None

    # --- market data --------------------------------------------------------------------

    def _req_market_data_type(self, r: FieldReader) -> None:
        r.skip()
        requested = r.int()
        if requested in (1, 2, 3, 4):
            self.market_data_type = MDT(requested)

    def _req_mkt_data(self, r: FieldReader) -> None:
        req = parse_mkt_data(r, self.server_version)
        inst = self._resolve(req.req_id, req.contract)
        if inst is None:
            return
        if not req.snapshot and len(self.lines) >= self.gateway.config.max_market_data_lines:
            self.error(req.req_id, 101, TEXT_MAX_TICKERS)
            return
        data_type = self._entitled_type(req.req_id, inst)
        if data_type is None:
            return
        line = MarketDataLine(req.req_id, inst, data_type)
        line.size_of = msg.size_encoder(self.server_version, inst)
        exchange = "9c0001" if inst.sec_type == "STK" else "a60001"
        if self.server_version >= pv.MIN_SERVER_VER_REQ_SMART_COMPONENTS:
            # TICK_REQ_PARAMS (message 81) came with the 9.73 API messages of server
            # versions 112..114 and has no cut-off constant of its own; sent from
            # MIN_SERVER_VER_REQ_SMART_COMPONENTS (smart components, message 82).
            self.send(msg.tick_req_params(req.req_id, inst.min_tick, exchange, 3))
        self.send(msg.market_data_type(req.req_id, data_type))
        if self.gateway.competing_session:
            self.error(req.req_id, *COMPETING_SESSION)
        elif self.gateway.data_flowing:
            self.send_ticks(line, full=True)
        if req.snapshot:
            self.send(msg.tick_snapshot_end(req.req_id))
        else:
            self.lines[req.req_id] = line

    def _entitled_type(self, req_id: int, inst: Instrument) -> int | None:
        """The data type this request gets, or None after sending the refusal."""
        cfg = self.gateway.config
        key = inst.key
        wants_delayed = self.market_data_type in (MDT.DELAYED, MDT.DELAYED_FROZEN)
        live_ok = key not in cfg.not_entitled and key not in cfg.delayed_only
        delayed_ok = key not in cfg.no_delayed
        frozen = not self.gateway.market_open
        if live_ok:
            if frozen and self.market_data_type in (MDT.FROZEN, MDT.DELAYED_FROZEN):
                return MDT.FROZEN
            return MDT.LIVE
        if key in cfg.delayed_only and not wants_delayed:
            if not delayed_ok:
                self.error(req_id, 10168, TEXT_DELAYED_NOT_ENABLED)
                return None
            self.error(req_id, 10167, TEXT_DISPLAYING_DELAYED)
            return MDT.DELAYED
        if not wants_delayed:
            text = TEXT_NOT_SUBSCRIBED.format(symbol=inst.symbol, exchange=inst.primary_exchange)
            self.error(req_id, 354, text)
            return None
        if not delayed_ok:
            self.error(req_id, 10168, TEXT_DELAYED_NOT_ENABLED)
            return None
        if frozen and self.market_data_type == MDT.DELAYED_FROZEN:
            return MDT.DELAYED_FROZEN
        return MDT.DELAYED

    def _cancel_mkt_data(self, r: FieldReader) -> None:
        r.skip()
        self.lines.pop(r.int(), None)

    def send_ticks(self, line: MarketDataLine, full: bool = False) -> None:
        """Send what changed on this line since the last snapshot (everything if full)."""
        q = self.gateway.market.quote(line.instrument.key)
        prices = {
            Tick.BID: (q.bid, q.bid_size, Tick.BID_SIZE),
            Tick.ASK: (q.ask, q.ask_size, Tick.ASK_SIZE),
            Tick.LAST: (q.last, q.last_size, Tick.LAST_SIZE),
            Tick.HIGH: (q.high, 0.0, None),
            Tick.LOW: (q.low, 0.0, None),
            Tick.CLOSE: (q.close, 0.0, None),
            Tick.OPEN: (q.open, 0.0, None),
        }

        def tick_id(tick: int) -> int:
            return LIVE_TO_DELAYED[Tick(tick)] if line.delayed else tick

        size_of = line.size_of
        for tick, (price, size, size_tick) in prices.items():
            before = line.sent.get(tick)
            if full or before is None or before[0] != price:
                self.send(msg.tick_price(line.req_id, tick_id(tick), price, size_of(size)))
            elif size_tick is not None and before[1] != size:
                self.send(msg.tick_size(line.req_id, tick_id(size_tick), size_of(size)))
            line.sent[tick] = (price, size)
        if full or line.sent.get(Tick.VOLUME, (None,))[0] != q.volume:
            self.send(msg.tick_size(line.req_id, tick_id(Tick.VOLUME), size_of(q.volume)))
            line.sent[Tick.VOLUME] = (q.volume, 0.0)
        stamp = float(int(q.last_time))
        if full or line.sent.get(Tick.LAST_TIMESTAMP, (None,))[0] != stamp:
            self.send(msg.tick_string(line.req_id, tick_id(Tick.LAST_TIMESTAMP), str(int(stamp))))
            line.sent[Tick.LAST_TIMESTAMP] = (stamp, 0.0)
        if line.instrument.is_derivative:
            g = self.gateway.market.greeks(line.instrument)
            if full or line.sent.get(Tick.MODEL_OPTION, (None,))[0] != g.und_price:
                self.send(
                    msg.tick_option_computation(
                        self.server_version,
                        line.req_id,
                        tick_id(Tick.MODEL_OPTION),
                        *(g.implied_vol, g.delta, g.price, g.pv_dividend),
                        *(g.gamma, g.vega, g.theta, g.und_price),
                    )
                )
                line.sent[Tick.MODEL_OPTION] = (g.und_price, 0.0)

    def on_market_step(self, changed: set[str]) -> None:
        for line in self.lines.values():
            if line.streaming and line.instrument.key in changed:
                self.send_ticks(line)

    def drop_market_data(self) -> None:
        """After 1101 (data lost) TWS forgets every subscription; clients resubscribe."""
        self.lines.clear()

    # --- contracts and history ----------------------------------------------------------

    def _req_contract_data(self, r: FieldReader) -> None:
        req_id, spec = parse_contract_details(r)
        found = self.gateway.resolve(spec)  # every match, as TWS answers
        if not found:
            self.error(req_id, 200, TEXT_NO_SECURITY)
            return
        for inst in found:
            inst = with_hours(inst, self.gateway.now())
            if inst.sec_type == "BOND":
                self.send(msg.bond_contract_details(self.server_version, req_id, inst))
            else:
                self.send(msg.contract_details(self.server_version, req_id, inst))
        self.send(msg.contract_details_end(req_id))

    def _req_matching_symbols(self, r: FieldReader) -> None:
        req_id = r.int()
        pattern = r.str().upper()
        found = self.gateway.search_symbols(pattern)
        self.send(msg.symbol_samples(self.server_version, req_id, found))

    def _req_historical(self, r: FieldReader) -> None:
        req = parse_historical(r, self.server_version)
        inst = self._resolve(req.req_id, req.contract)
        if inst is None:
            return
        if self.gateway.farms_broken.get("hmds"):
            self.error(req.req_id, *HMDS_DOWN)
            return
        now = self.gateway.now()
        refusal = self.gateway.pacing.check(
            now,
            f"{inst.con_id}:{req.contract.exchange}:{req.what_to_show}",
            f"{inst.con_id}:{req.end}:{req.duration}:{req.bar_size}:{req.what_to_show}:"
            f"{req.use_rth}",
        )
        if refusal:
            self.error(req.req_id, 162, refusal)
            return
        end = self.gateway.parse_end_time(req.end) or now
        try:
            bars = self.gateway.market.bars(
                inst.key, end, req.duration, req.bar_size, req.what_to_show, req.use_rth
            )
        except HistoricalDataError as exc:
            self.error(req.req_id, exc.code, exc.message)
            return
        v = self.server_version
        rows = [
            (
                self._bar_date(bar.time, req.format_date),
                bar.open,
                bar.high,
                bar.low,
                bar.close,
                msg.bar_volume(v, inst, bar.volume),
                bar.wap,
                bar.count,
            )
            for bar in bars
        ]
        start = bars[0].time if bars else end
        start_text = (
            self._bar_date(start, 1) if not isinstance(start, (int, float)) else ib_time(start)
        )
        self.send(
            msg.historical_data(self.server_version, req.req_id, start_text, ib_time(end), rows)
        )

    @staticmethod
    def _bar_date(value: object, format_date: int) -> str:
        if isinstance(value, (int, float)):
            return str(int(value)) if format_date == 2 else ib_time(value)
        return value.strftime("%Y%m%d")  # type: ignore[attr-defined]

    def _req_head_timestamp(self, r: FieldReader) -> None:
        req_id = r.int()
        spec = r.contract()
        inst = self._resolve(req_id, spec)
        if inst is not None:
            self.send(msg.head_timestamp(req_id, "19800317 14:30:00"))

    # --- account ------------------------------------------------------------------------

    def _req_account_updates(self, r: FieldReader) -> None:
        r.skip()
        subscribe = r.bool()
        account = r.str()
        self.account_updates = subscribe
        self.account_updates_account = account
        if subscribe:
            self.send_account_updates(account)

    def send_account_updates(self, account: str | None = None) -> None:
        gw = self.gateway
        book = gw.account_for(account or self.account_updates_account)
        account = book.account_id
        for value in book.account_values(gw.market):
            self.send(msg.account_value(value.tag, value.value, value.currency, account))
        for item in book.portfolio(gw.market):
            self.send(
                msg.portfolio_value(
                    item.instrument,
                    item.position,
                    item.market_price,
                    item.market_value,
                    item.average_cost,
                    item.unrealized_pnl,
                    item.realized_pnl,
                    account,
                )
            )
        self.send(
            msg.account_update_time(datetime.fromtimestamp(gw.now(), EASTERN).strftime("%H:%M"))
        )
        self.send(msg.account_download_end(account))

    def _req_account_updates_multi(self, r: FieldReader) -> None:
        r.skip()  # version
        req_id = r.int()
        self.account_multi_accounts[req_id] = r.str()
        self.account_multi_requests[req_id] = r.str()
        self.send_account_updates_multi(req_id)

    def send_account_updates_multi(self, req_id: int) -> None:
        gw = self.gateway
        book = gw.account_for(self.account_multi_accounts.get(req_id, ""))
        account = book.account_id
        model = self.account_multi_requests.get(req_id, "")
        for v in book.account_values(gw.market):
            self.send(msg.account_update_multi(req_id, account, model, v.tag, v.value, v.currency))
        self.send(msg.account_update_multi_end(req_id))

    def _req_positions_multi(self, r: FieldReader) -> None:
        r.skip()  # version
        req_id = r.int()
        wanted = r.str()
        model = r.str()
        for book in self.gateway.accounts.values():
            if wanted and wanted != book.account_id:
                continue
            for inst, qty, avg_cost in book.positions():
                self.send(msg.position_multi(req_id, book.account_id, inst, qty, avg_cost, model))
        self.send(msg.position_multi_end(req_id))

    def _req_positions(self, r: FieldReader) -> None:
        self.positions_subscribed = True
        self.send_positions()

    def send_positions(self) -> None:
        for book in self.gateway.accounts.values():
            for inst, qty, avg_cost in book.positions():
                self.send(msg.position(book.account_id, inst, qty, avg_cost))
        self.send(msg.position_end())

    def send_position(self, inst: Instrument, account: str = "") -> None:
        book = self.gateway.account_for(account)
        held = book.position(inst.con_id)
        qty, avg_cost = (held.qty, held.avg_cost) if held else (0.0, 0.0)
        self.send(msg.position(book.account_id, inst, qty, avg_cost))

    def _cancel_positions(self, r: FieldReader) -> None:
        self.positions_subscribed = False

    def _req_account_summary(self, r: FieldReader) -> None:
        r.skip()
        req_id = r.int()
        r.str()  # group
        tags = r.str()
        self.summary_requests[req_id] = tags
        self.send_account_summary(req_id)

    def send_account_summary(self, req_id: int) -> None:
        gw = self.gateway
        tags = self.summary_requests.get(req_id, "")
        for book in gw.accounts.values():  # group "All": every managed account
            for value in book.summary(gw.market, tags):
                self.send(
                    msg.account_summary(
                        req_id, book.account_id, value.tag, value.value, value.currency
                    )
                )
        self.send(msg.account_summary_end(req_id))

    def _req_pnl(self, r: FieldReader) -> None:
        req_id = r.int()
        account = r.str()
        self.pnl_requests[req_id] = account
        self.send_pnl()

    def _req_pnl_single(self, r: FieldReader) -> None:
        req_id = r.int()
        account = r.str()
        r.str()  # model code
        con_id = r.int()
        self.pnl_single_requests[req_id] = con_id
        self.pnl_single_accounts[req_id] = account
        self.send_pnl()

    def send_pnl(self) -> None:
        gw = self.gateway
        for req_id, account in self.pnl_requests.items():
            daily, unrealized, realized = gw.account_for(account).daily_pnl(gw.market)
            self.send(msg.pnl(self.server_version, req_id, daily, unrealized, realized))
        for req_id, con_id in self.pnl_single_requests.items():
            book = gw.account_for(self.pnl_single_accounts.get(req_id, ""))
            values = book.pnl_single(con_id, gw.market)
            if values is not None:
                self.send(msg.pnl_single(self.server_version, req_id, *values))

    # --- orders -------------------------------------------------------------------------

    def send_order_update(self, state: SimOrder, open_order: bool = True) -> None:
        """openOrder (unless `open_order` is False) and orderStatus reporting `state`, a
        snapshot taken when the event happened: by the time it is sent the order itself
        may have moved on (e.g. straight to Filled)."""
        if open_order:
            self.send(msg.open_order(self.server_version, self.gateway.desk.view(state)))
        self.send(
            msg.order_status(
                self.server_version,
                state.order_id,
                state.status,
                state.filled,
                state.remaining,
                state.avg_fill_price,
                state.perm_id,
                state.parent_id,
                state.last_fill_price,
                state.client_id,
                state.why_held,
            )
        )

    def _req_executions(self, r: FieldReader) -> None:
        f = parse_executions(r)
        desk = self.gateway.desk
        for event in self.gateway.engine.executions():
            order, execution, commission = event.order, event.execution, event.commission
            if not desk.sees_execution(self, order):
                continue
            if f.client_id not in (0, msg.UNSET_INTEGER) and execution.client_id != f.client_id:
                continue
            if f.symbol and order.instrument.symbol != f.symbol.upper():
                continue
            if f.side and execution.side != f.side.upper():
                continue
            if f.account and execution.account != f.account:
                continue
            self.send_execution(f.req_id, order, execution)
            self.send_commission(commission)
        self.send(msg.execution_end(f.req_id))

    def send_execution(self, req_id: int, order: SimOrder, execution: Execution) -> None:
        self.send(
            msg.execution(
                self.server_version,
                req_id,
                order.order_id,
                order.instrument,
                execution.exec_id,
                ib_time(execution.time),
                execution.account,
                execution.exchange,
                execution.side,
                execution.shares,
                execution.price,
                execution.perm_id,
                execution.client_id,
                execution.cum_qty,
                execution.avg_price,
                order.order_ref,
                execution.last_liquidity,
            )
        )

    def send_commission(self, commission: Commission) -> None:
        self.send(
            msg.commission_report(
                commission.exec_id,
                commission.commission,
                commission.currency,
                commission.realized_pnl,
                commission.yield_,
                commission.yield_redemption_date,
            )
        )

    def _place_order(self, r: FieldReader) -> None:
        self.gateway.desk.place(self, parse_place_order(r, self.server_version))

    def _cancel_order(self, r: FieldReader) -> None:
        self.gateway.desk.cancel(self, parse_cancel_order(r))

    def _req_auto_open_orders(self, r: FieldReader) -> None:
        r.skip()  # version
        self.gateway.desk.auto_open_orders(self, r.bool())

    def _cancel_account_summary(self, r: FieldReader) -> None:
        r.skip()  # version
        self.summary_requests.pop(r.int(), None)

    def _cancel_account_updates_multi(self, r: FieldReader) -> None:
        r.skip()  # version
        self.account_multi_requests.pop(r.int(), None)

    def _ignore(self, r: FieldReader) -> None:
        """Cancels of requests that keep no state here."""

    # Built once: request id -> handler (called with the session and the field reader).
    HANDLERS: ClassVar[dict[int, Handler]] = {}


ClientSession.HANDLERS.update(
    {
        In.REQ_IDS: lambda s, r: s.send(msg.next_valid_id(s.gateway.next_order_id())),
        In.REQ_CURRENT_TIME: lambda s, r: s.send(msg.current_time(int(s.gateway.now()))),
        In.REQ_MANAGED_ACCTS: lambda s, r: s.send(msg.managed_accounts(s.gateway.account_ids())),
        In.REQ_MARKET_DATA_TYPE: ClientSession._req_market_data_type,
        In.REQ_MKT_DATA: ClientSession._req_mkt_data,
        In.CANCEL_MKT_DATA: ClientSession._cancel_mkt_data,
        In.REQ_CONTRACT_DATA: ClientSession._req_contract_data,
        In.REQ_MATCHING_SYMBOLS: ClientSession._req_matching_symbols,
        In.REQ_ACCT_DATA: ClientSession._req_account_updates,
        In.REQ_POSITIONS: ClientSession._req_positions,
        In.REQ_POSITIONS_MULTI: ClientSession._req_positions_multi,
        In.CANCEL_POSITIONS_MULTI: ClientSession._ignore,
        In.REQ_ACCOUNT_UPDATES_MULTI: ClientSession._req_account_updates_multi,
        In.CANCEL_ACCOUNT_UPDATES_MULTI: ClientSession._cancel_account_updates_multi,
        In.CANCEL_POSITIONS: ClientSession._cancel_positions,
        In.REQ_ACCOUNT_SUMMARY: ClientSession._req_account_summary,
        In.CANCEL_ACCOUNT_SUMMARY: ClientSession._cancel_account_summary,
        In.REQ_PNL: ClientSession._req_pnl,
        In.CANCEL_PNL: lambda s, r: s.pnl_requests.pop(r.int(), None),
        In.REQ_PNL_SINGLE: ClientSession._req_pnl_single,
        In.CANCEL_PNL_SINGLE: lambda s, r: s.pnl_single_requests.pop(r.int(), None),
        In.REQ_OPEN_ORDERS: lambda s, r: s.gateway.desk.send_open_orders(s, "mine"),
        In.REQ_ALL_OPEN_ORDERS: lambda s, r: s.gateway.desk.send_open_orders(s, "all"),
        In.REQ_AUTO_OPEN_ORDERS: ClientSession._req_auto_open_orders,
        In.REQ_COMPLETED_ORDERS: lambda s, r: s.send(msg.completed_orders_end()),
        In.REQ_EXECUTIONS: ClientSession._req_executions,
        In.PLACE_ORDER: ClientSession._place_order,
        In.CANCEL_ORDER: ClientSession._cancel_order,
        In.REQ_GLOBAL_CANCEL: lambda s, r: s.gateway.desk.cancel_all(),
        In.REQ_HISTORICAL_DATA: ClientSession._req_historical,
        In.CANCEL_HISTORICAL_DATA: ClientSession._ignore,
        In.REQ_HEAD_TIMESTAMP: ClientSession._req_head_timestamp,
    }
)
