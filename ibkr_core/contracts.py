"""Which instrument an order is for: every IBKR match of a symbol, cached by conId.

A symbol alone does not name an instrument: "SAP" is the IBIS stock in EUR and the NYSE
ADR in USD; "ES" is Eversource stock, the E-mini future and its options. ``Resolver``
asks IBKR for all matches (``reqContractDetails`` with only the symbol: no security
type, exchange or currency assumed) and returns them as ``Instrument`` values; the
caller lets the trader pick when there is more than one. Contracts are cached by conId
(the one key IBKR guarantees unique), never "first match by symbol".

``StockContracts`` is the quote side's simpler question: a watchlist symbol as a US stock
(SMART, USD), qualified once per connection (``stock_contracts(connection)``) along with
its exchange's time zone; ``create_contract`` is its blocking form (the seed's API).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ib_async import Contract, Stock

from ibkr_core import ib_requests
from ibkr_core.companions import Companion
from ibkr_core.connection_errors import NotConnectedError, UnknownSymbolError
from ibkr_core.instruments import describe
from ibkr_core.quote import num
from ibkr_core.symbols import normalize_symbol

if TYPE_CHECKING:
    from ibkr_core.connection import IBKRConnection

__all__ = [
    "SEC_TYPE_NAMES",
    "Instrument",
    "Resolver",
    "StockContracts",
    "create_contract",
    "describe_contract",
    "instrument_of",
    "stock_contracts",
]

SEC_TYPE_NAMES = {
    "STK": "Stock",
    "OPT": "Option",
    "FUT": "Future",
    "FOP": "Future option",
    "BOND": "Bond",
    "CASH": "Forex",
    "CRYPTO": "Crypto",
    "IND": "Index",
    "CFD": "CFD",
    "WAR": "Warrant",
    "FUND": "Fund",
}
MISSING_RETRY_SECONDS = 60.0
# Asked one by one when the symbol alone gets no answer (option chains are not: an
# option is traded from a held position or its explicit conId).
FALLBACK_TYPES = ("STK", "FUT", "CASH", "CRYPTO")


@dataclass(frozen=True)
class Instrument:
    """One tradable IBKR contract, as a trader reads it."""

    con_id: int
    sec_type: str
    symbol: str
    local_symbol: str
    exchange: str  # where orders route (SMART or the listing exchange)
    primary_exchange: str
    currency: str
    multiplier: float  # 1 for shares; 100 for US equity options, 50 for ES...
    description: str  # "AAPL 15 JAN 27 230 Call", "ES DEC 26", "SAP · IBIS · EUR"
    long_name: str = ""
    min_tick: float | None = None
    contract: Any = field(default=None, compare=False, repr=False)  # the ib_async Contract

    @property
    def type_name(self) -> str:
        return SEC_TYPE_NAMES.get(self.sec_type, self.sec_type)

    @property
    def listing(self) -> str:
        """The exchange a trader names: the primary listing when routed through SMART."""
        return self.primary_exchange or self.exchange

    @property
    def label(self) -> str:
        """A plain one-line description for a select: what, type, where, currency."""
        said = self.description.split(" · ")
        parts = [self.description]
        parts += [p for p in (self.listing, self.currency) if p and p not in said]
        parts.append(self.type_name)
        name = f" — {self.long_name}" if self.long_name else ""
        return " · ".join(parts) + name

    @property
    def is_derivative(self) -> bool:
        return self.sec_type in ("OPT", "FUT", "FOP", "WAR")


def describe_contract(c: Any, details: Any = None) -> str:
    """How TWS names a contract ("AAPL 15 JAN 27 230 Call", "ES DEC 26",
    "SAP · IBIS · EUR"): the one naming of ``ibkr_core.instruments``."""
    return describe(c, details)


def instrument_of(
    contract: Any, long_name: str = "", min_tick: float | None = None, details: Any = None
) -> Instrument:
    multiplier = num(contract.multiplier) if contract.multiplier else None
    return Instrument(
        con_id=int(contract.conId or 0),
        sec_type=(contract.secType or "").upper(),
        symbol=contract.symbol or "",
        local_symbol=contract.localSymbol or "",
        exchange=contract.exchange or "",
        primary_exchange=contract.primaryExchange or "",
        currency=contract.currency or "",
        multiplier=multiplier or 1.0,
        description=describe_contract(contract, details),
        long_name=long_name,
        min_tick=min_tick,
        contract=contract,
    )


def _from_details(details: Any) -> Instrument | None:
    c = details.contract
    if c is None or not c.conId:
        return None
    if not c.exchange:
        c.exchange = "SMART" if c.secType in ("STK", "OPT") else (c.primaryExchange or "")
    return instrument_of(c, details.longName or "", num(details.minTick), details)


class Resolver:
    """(Loop thread.) Symbol -> every IBKR match; conId -> its instrument (cached)."""

    def __init__(self, connection: IBKRConnection) -> None:
        self._conn = connection
        self._by_con_id: dict[int, Instrument] = {}
        self._missing: dict[int, float] = {}  # conId -> until when not to ask again

    async def _details(self, contract: Contract, timeout: float) -> list[Any]:
        return await _details(self._conn, contract, timeout, "the contract")

    async def matches(self, symbol: str, timeout: float) -> list[Instrument]:
        """Every instrument IBKR lists for ``symbol`` (any type, exchange, currency).
        Raises ``UnknownSymbolError`` when there is none."""
        key = normalize_symbol(symbol)
        if not key:
            raise UnknownSymbolError(symbol, "empty symbol")
        details = await self._details(Contract(symbol=key), timeout)
        if not details:
            # A gateway that wants a security type answers the symbol alone with an
            # error (no details): ask each kind a symbol can name on its own instead.
            kinds = await asyncio.gather(
                *(self._details(Contract(symbol=key, secType=t), timeout) for t in FALLBACK_TYPES)
            )
            details = [d for kind in kinds for d in kind]
        found = [i for d in details if (i := _from_details(d))]
        if not found:
            raise UnknownSymbolError(symbol)
        for inst in found:
            self._by_con_id[inst.con_id] = inst
        order = list(SEC_TYPE_NAMES)
        return sorted(
            found,
            key=lambda i: (
                order.index(i.sec_type) if i.sec_type in order else len(order),
                i.local_symbol,
            ),
        )

    async def by_con_id(self, con_id: int, timeout: float) -> Instrument:
        """The instrument with IBKR's ``con_id`` (cached: a conId never changes meaning)."""
        cached = self._by_con_id.get(con_id)
        if cached is not None:
            return cached
        if self._missing.get(con_id, 0.0) > time.monotonic():
            raise UnknownSymbolError(str(con_id), "IBKR gave no details for this conId")
        details = await self._details(Contract(conId=con_id), timeout)
        found = next((i for d in details if (i := _from_details(d)) and i.con_id == con_id), None)
        if found is None:
            # e.g. an expired contract, or details ib_async could not decode (see
            # ib_compat.py); don't ask again on every page refresh.
            self._missing[con_id] = time.monotonic() + MISSING_RETRY_SECONDS
            raise UnknownSymbolError(str(con_id), "IBKR gave no details for this conId")
        self._by_con_id[con_id] = found
        return found


async def _details(
    connection: IBKRConnection, contract: Contract, timeout: float, what: str
) -> list[Any]:
    """(Loop thread.) Contract details; none (``[]``) when TWS refuses the request (e.g.
    200: no security definition)."""
    ib = connection.ib
    if not ib.isConnected():
        raise NotConnectedError()
    try:
        return await ib_requests.contract_details(ib, contract, timeout)
    except ib_requests.RequestFailedError:
        return []
    except ConnectionError as exc:
        raise NotConnectedError(f"Connection lost while looking up {what}") from exc


class StockContracts:
    """(Loop thread.) US stock symbol -> its qualified contract and exchange time zone."""

    def __init__(self, connection: IBKRConnection) -> None:
        self._conn = connection
        self._contracts: dict[str, Contract] = {}
        self._time_zones: dict[str, str] = {}  # symbol -> the exchange's timeZoneId

    async def qualify(self, symbol: str, timeout: float | None = None) -> Contract:
        """Qualify a US stock symbol through reqContractDetails (cached)."""
        key = normalize_symbol(symbol)
        if not key:
            raise UnknownSymbolError(symbol, "empty symbol")
        cached = self._contracts.get(key)
        if cached is not None:
            return cached
        timeout = self._conn.settings.request_timeout if timeout is None else timeout
        details = await _details(self._conn, Stock(key, "SMART", "USD"), timeout, key)
        if not details:
            raise UnknownSymbolError(symbol)
        chosen = next((d for d in details if d.contract and d.contract.currency == "USD"), None)
        contract = (chosen or details[0]).contract
        if contract is None or not contract.conId:
            raise UnknownSymbolError(symbol)
        if (chosen or details[0]).timeZoneId:
            self._time_zones[key] = (chosen or details[0]).timeZoneId
        if not contract.exchange:
            contract.exchange = "SMART"
        self._contracts[key] = contract
        return contract

    def time_zone(self, symbol: str) -> str | None:
        """The exchange's time zone id from the symbol's contract details (once qualified)."""
        return self._time_zones.get(normalize_symbol(symbol))


stock_contracts: Companion[StockContracts] = Companion(StockContracts)


def create_contract(
    connection: IBKRConnection, symbol: str, timeout: float | None = None
) -> Contract:
    """A US stock contract qualified through contract details (``UnknownSymbolError``
    when IBKR has none). Blocking, from any thread but the loop's."""
    timeout = connection.settings.request_timeout if timeout is None else timeout
    qualify = stock_contracts(connection).qualify(symbol, timeout)
    return connection.run(qualify, timeout + 1)
