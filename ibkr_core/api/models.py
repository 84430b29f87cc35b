"""The API's request and response models (pydantic), mapped from ibkr_core's dataclasses.

Every ``from_core`` constructor takes the ibkr_core object as it is and copies fields;
no business value is computed here beyond what the core object already exposes.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ibkr_core.data_state import quote_view
from ibkr_core.order_ticket import OrderTicket
from ibkr_core.tws_codes import Problem

# A symbol as IBKR and the fallback providers spell it: letters, digits, '.', '-', ' '.
SYMBOL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9.\- ]{0,19}$"
# A host name or an IPv4 / IPv6 literal (no scheme, no path, no whitespace).
HOST_PATTERN = r"^[A-Za-z0-9:.\-\[\]]{1,253}$"


class ProblemModel(BaseModel):
    """One source's reason for having no data (``tws_codes.Problem``)."""

    message: str
    code: int | None = Field(None, description="TWS's code, when TWS said why (354, 10168, ...).")
    advice: str = Field("", description="What the user can do about it.")
    source: str = Field("", description="Which source said it (ibkr-live, yahoo, ...).")
    expected: bool = Field(False, description="The source is just off (not connected / set up).")
    unknown_symbol: bool = False

    @classmethod
    def from_core(cls, problem: Problem) -> ProblemModel:
        return cls(**asdict(problem))


class ErrorResponse(BaseModel):
    detail: str = Field(description="A plain message saying what went wrong.")
    problems: list[ProblemModel] = Field(
        default_factory=list, description="For a quote: each source's reason, structured."
    )


# ------------------------------------------------------------------- connection
class ConnectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str | None = Field(
        None, pattern=HOST_PATTERN, description="TWS / IB Gateway host; default from settings."
    )
    port: int | None = Field(None, ge=1, le=65535, description="API port; default from settings.")
    client_id: int | None = Field(
        None,
        ge=0,
        le=2_147_483_647,
        description="API client id; default: the API server's own (settings.client_id + 100).",
    )
    timeout: float | None = Field(
        None, gt=0, le=60, description="Seconds per attempt; default settings.connect_timeout."
    )


class StateNotice(BaseModel):
    level: str = Field(description='"info", "warning" or "error"')
    message: str
    advice: str = Field(description="What the user can do about it ('' when nothing).")
    code: int | None = Field(description="The TWS code behind it (1100, 2103, 10197, ...).")


class ConnectionStatusResponse(BaseModel):
    state: str
    connected: bool
    host: str
    port: int
    client_id: int | None
    requested_client_id: int | None
    accounts: list[str]
    is_paper: bool | None
    port_kind: str | None
    server_version: int | None
    connected_since: datetime | None
    last_error: str | None
    warnings: list[str]
    connectivity: str
    connectivity_message: str | None
    data_farms: dict[str, str]
    market_data_type: str
    reconnect_attempts: int
    next_retry_at: datetime | None
    link_state: str = Field(
        description="connected, degraded (1100), reconnecting, connecting, disconnected"
    )
    state_label: str = Field(description="The sidebar badge's text, e.g. 'Data farm broken'.")
    live: bool = Field(description="IBKR prices are live right now (no 1100 / farm / 10197).")
    broken_farms: list[str] = Field(description="e.g. 'usfarm (market data)' after 2103.")
    competing_session: bool = Field(description="10197: another live session holds the data.")
    notices: list[StateNotice] = Field(description="What to tell the user, with advice.")

    @classmethod
    def from_core(cls, status: Any) -> ConnectionStatusResponse:
        view = status.view
        return cls(
            link_state=str(view.state),
            state_label=view.label,
            live=view.live,
            broken_farms=list(view.broken_farms),
            competing_session=view.competing_session,
            notices=[StateNotice(**n) for n in view.as_dict()["notices"]],
            state=str(status.state),
            connected=status.connected,
            host=status.host,
            port=status.port,
            client_id=status.client_id,
            requested_client_id=status.requested_client_id,
            accounts=list(status.accounts),
            is_paper=status.is_paper,
            port_kind=status.port_kind,
            server_version=status.server_version,
            connected_since=status.connected_since,
            last_error=status.last_error,
            warnings=list(status.warnings),
            connectivity=status.connectivity,
            connectivity_message=status.connectivity_message,
            data_farms=status.farms,
            market_data_type=status.market_data_type_name,
            reconnect_attempts=status.reconnect_attempts,
            next_retry_at=status.next_retry_at,
        )


class AccountSummaryResponse(BaseModel):
    accounts: dict[str, dict[str, float | str]] = Field(
        description="Per account: IBKR tags (NetLiquidation, TotalCashValue, ...) and currency."
    )
    as_of: datetime


class IbkrPosition(BaseModel):
    """One held contract. Money without ``_base`` is in ``currency`` (the instrument's),
    ``_base`` money in ``base_currency`` (the account's), converted with the account's
    own IBKR exchange rates; null means unknown (no data yet, or no rate)."""

    account: str
    symbol: str
    sec_type: str
    con_id: int
    currency: str
    quantity: float
    avg_cost: float | None = Field(description="IBKR's averageCost: per contract, multiplier in")
    market_price: float | None = Field(description="Per unit (per share; bonds: % of par)")
    market_value: float | None = Field(
        description="IBKR's market value; null for futures (see notional)"
    )
    unrealized_pnl: float | None
    unrealized_pnl_pct: float | None = None
    realized_pnl: float | None
    daily_pnl: float | None = None
    weight_pct: float | None = Field(
        None, description="market_value_base / net liquidation; null for futures and FX"
    )
    description: str = ""
    asset_class: str = ""
    exchange: str = ""
    local_symbol: str = ""
    multiplier: float | None = None
    avg_price: float | None = Field(None, description="Per unit, like market_price")
    notional: float | None = Field(None, description="Futures: notional exposure")
    base_currency: str | None = None
    fx_rate: float | None = Field(None, description="base per unit of currency (IBKR's)")
    market_value_base: float | None = None
    unrealized_pnl_base: float | None = None
    daily_pnl_base: float | None = None
    notional_base: float | None = None
    in_cash: bool = Field(False, description="An FX position: counted in the cash balances")


class PositionsResponse(BaseModel):
    positions: list[IbkrPosition]
    count: int
    as_of: datetime


# ------------------------------------------------------------------- portfolio
class CashLineResponse(BaseModel):
    currency: str
    balance: float | None = Field(description="In the currency itself")
    rate: float | None = Field(description="IBKR's ExchangeRate: base per unit")
    base_value: float | None = Field(description="In the account's base currency")


class PortfolioSummaryResponse(BaseModel):
    net_liquidation: float | None
    total_cash: float | None
    positions_count: int
    positions_value: float | None = Field(
        description="In base; futures (P&L only) and FX cash (in total_cash) left out"
    )
    daily_pnl: float | None
    unrealized_pnl: float | None
    realized_pnl: float | None
    currency: str = Field(
        description='The base currency; "MIXED" (values null) when accounts do not convert'
    )
    source: str = Field(description='"ibkr", or "not connected" (then every value is 0).')
    connected: bool
    accounts: list[str]
    as_of: datetime
    account: str = Field("", description='The account, or "All"')
    futures_exposure: float | None = Field(None, description="Futures notional, in base")
    daily_pnl_pct: float | None = Field(None, description="Of yesterday's net liquidation")
    securities_pnl_pct: float | None = Field(
        None, description="Securities' unrealized P&L over their cost, in base"
    )
    cash: list[CashLineResponse] = Field(default_factory=list)
    unconverted: list[str] = Field(
        default_factory=list, description="Currencies held without an IBKR rate to base"
    )
    per_account: dict[str, PortfolioSummaryResponse] = Field(default_factory=dict)

    @classmethod
    def from_core(cls, summary: Any) -> PortfolioSummaryResponse:
        return cls(
            net_liquidation=summary.net_liquidation,
            total_cash=summary.total_cash,
            positions_count=summary.positions_count,
            positions_value=summary.positions_value,
            daily_pnl=summary.daily_pnl,
            unrealized_pnl=summary.unrealized_pnl,
            realized_pnl=summary.realized_pnl,
            currency=summary.currency,
            source=summary.source,
            connected=summary.connected,
            accounts=list(summary.accounts),
            as_of=summary.as_of,
            account=summary.account,
            futures_exposure=summary.futures_exposure,
            daily_pnl_pct=summary.daily_pnl_pct,
            securities_pnl_pct=summary.securities_pnl_pct,
            cash=[CashLineResponse.model_validate(c, from_attributes=True) for c in summary.cash],
            unconverted=list(summary.unconverted),
            per_account={
                account: cls.from_core(part)
                for account, part in (summary.per_account or {}).items()
                if part is not summary and part.account != summary.account
            },
        )


class PortfolioPositionsResponse(BaseModel):
    account: str = Field(description='The account, or "All"')
    base_currency: str
    positions: list[IbkrPosition]
    count: int
    as_of: datetime


class PortfolioAccountsResponse(BaseModel):
    accounts: list[str] = Field(description="Every account this login manages")
    choices: list[str] = Field(description='Each account, then "All" where it converts')


# ------------------------------------------------------------------- market data
class QuoteResponse(BaseModel):
    symbol: str
    source: str = Field(description="ibkr-live, ibkr-delayed, ibkr-frozen, yahoo, alphavantage")
    price: float | None = Field(description="Last trade, else the mid, else the close.")
    last: float | None
    bid: float | None
    ask: float | None
    volume: float | None
    high: float | None
    low: float | None
    previous_close: float | None
    change: float | None
    change_percent: float | None
    provider_time: datetime | None = Field(description="The provider's own time of the data.")
    fetched_at: datetime = Field(description="When the server obtained it.")
    age_seconds: float | None
    stale: bool | None = Field(description="Older than settings.stale_after (None: no time).")
    line_state: str | None = Field(
        None,
        description="IBKR line: live, delayed, frozen (market closed), delayed-frozen, "
        "stalled (1100 / data farm broken), competing-session (10197), waiting",
    )
    source_text: str = Field("", description='As the page shows it: "IBKR (frozen, ...)".')
    live: bool = Field(False, description="True only for a live, updating IBKR line.")
    problem: str | None = Field(None, description="Why there is no data and what to do.")
    problems: list[ProblemModel] = Field(
        default_factory=list, description="Each source's reason for no data, structured."
    )
    last_trade_time: datetime | None = Field(None, description="The last trade's own time.")

    @classmethod
    def from_core(cls, quote: Any, stale_after: float) -> QuoteResponse:
        age = quote.age_seconds()
        view = quote_view(quote)
        return cls(
            line_state=str(view.state) if view.state else None,
            source_text=view.source_text,
            live=view.live,
            problem=view.problem,
            problems=[ProblemModel.from_core(p) for p in quote.problems],
            last_trade_time=quote.last_trade_time,
            symbol=quote.symbol,
            source=str(quote.source),
            price=quote.price,
            last=quote.last,
            bid=quote.bid,
            ask=quote.ask,
            volume=quote.volume,
            high=quote.high,
            low=quote.low,
            previous_close=quote.previous_close,
            change=quote.change,
            change_percent=quote.change_percent,
            provider_time=quote.provider_time,
            fetched_at=quote.fetched_at,
            age_seconds=age,
            stale=None if age is None else age > stale_after,
        )


# ------------------------------------------------------------------- orders
class OrderTicketRequest(BaseModel):
    """An order as the trader enters it. Checked here for shape; OrderService checks the
    business rules (known symbol, tick size, max order value, buying power). NaN and
    Infinity (which JSON parsers accept) are refused with 422 like any bad number."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    symbol: str = Field(pattern=SYMBOL_PATTERN)
    action: Literal["BUY", "SELL"]
    quantity: float = Field(gt=0, le=10_000_000)
    order_type: Literal["MKT", "LMT", "STP", "STP LMT"] = "MKT"
    limit_price: float | None = Field(None, gt=0, le=10_000_000)
    stop_price: float | None = Field(None, gt=0, le=10_000_000)
    tif: Literal["DAY", "GTC"] = "DAY"
    account: str | None = Field(None, pattern=r"^[A-Za-z0-9]{1,32}$")
    con_id: int | None = Field(
        None,
        gt=0,
        le=2_147_483_647,
        description="IBKR's contract id: required when the symbol matches several "
        "instruments (see GET /api/trading/orders/instruments).",
    )

    def to_core(self) -> OrderTicket:
        return OrderTicket(**self.model_dump())


class TradingStatusResponse(BaseModel):
    allowed: bool = Field(description="True when orders may be placed / cancelled now.")
    reason: str = Field(description="Why trading is locked, or what kind of account it is.")
    is_paper: bool | None
    live_trading_enabled: bool
    max_order_value: float
    max_order_value_currency: str = Field(
        "", description="The account's base currency the limit is in ('' while unknown)."
    )


class ValidationIssueModel(BaseModel):
    field: str
    message: str


class OrderRejectedResponse(BaseModel):
    """422 for a ticket OrderService refused (nothing was sent)."""

    detail: str
    issues: list[ValidationIssueModel]


class InstrumentResponse(BaseModel):
    con_id: int
    sec_type: str
    type_name: str
    symbol: str
    local_symbol: str
    description: str = Field(description='As TWS names it: "AAPL 15 JAN 27 230 Call".')
    label: str
    exchange: str
    listing: str
    currency: str
    multiplier: float
    long_name: str


class InstrumentsResponse(BaseModel):
    symbol: str
    instruments: list[InstrumentResponse]


class OrderPreviewResponse(BaseModel):
    symbol: str
    action: str
    quantity: float
    order_type: str
    estimated_price: float | None
    order_value: float | None
    commission: float | None
    min_commission: float | None
    max_commission: float | None
    commission_currency: str
    init_margin_before: float | None
    init_margin_change: float | None
    init_margin_after: float | None
    maint_margin_before: float | None
    maint_margin_change: float | None
    maint_margin_after: float | None
    equity_with_loan_before: float | None
    equity_with_loan_change: float | None
    equity_with_loan_after: float | None
    warning: str
    position: float | None = Field(None, description="The account's position in the symbol.")
    short_warning: str = Field("", description="Set when a SELL exceeds the position.")
    account: str = Field("", description="The account the preview was made for.")
    instrument: InstrumentResponse | None = Field(None, description="What the order is for.")
    currency: str = Field("", description="The instrument's: prices and order_value.")
    order_value_base: float | None = Field(
        None, description="order_value in base_currency, at the account's own IBKR rate."
    )
    base_currency: str = ""
    max_order_value: float | None = Field(None, description="The per-order limit, in base.")
    value_factor: float = Field(
        1.0,
        description="Money per unit of price and quantity: the multiplier (a bond's face/100).",
    )
    trading: TradingStatusResponse = Field(description="Whether placing it is allowed now.")


class OrderResponse(BaseModel):
    order_id: int
    perm_id: int
    symbol: str
    action: str
    quantity: float
    order_type: str
    limit_price: float | None
    stop_price: float | None
    tif: str
    status: str
    filled: float
    remaining: float
    avg_fill_price: float | None
    created_at: datetime
    last_update: datetime
    idempotency_key: str | None
    message: str | None
    account: str
    client_id: int | None
    con_id: int = 0
    sec_type: str = ""
    description: str = ""
    currency: str = ""
    parent_id: int = 0
    own: bool = True
    origin: str = Field("", description='"this dashboard", "TWS" or "API client N".')


class FillResponse(BaseModel):
    exec_id: str
    time: datetime
    symbol: str
    side: str
    shares: float
    price: float
    commission: float | None
    realized_pnl: float | None
    order_id: int
    perm_id: int
    account: str
    description: str = ""
    currency: str = Field("", description="Of price.")
    commission_currency: str = ""
    con_id: int = 0


class OrdersResponse(BaseModel):
    orders: list[OrderResponse]
    fills: list[FillResponse]
    trading: TradingStatusResponse
    as_of: datetime = Field(default_factory=lambda: datetime.now(UTC))


# ------------------------------------------------------------------- misc
class HealthResponse(BaseModel):
    ok: bool
    ibkr_connected: bool
    version: str
