"""Encoders for the messages the gateway sends, one function per message, laid out
field by field as IBKR's `ibapi` decoder and `ib_async`'s decoder read them at the
negotiated server version. Each returns the list of fields (framing is wire.py's job).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .protocol import (
    MIN_SERVER_VER_ADVANCED_ORDER_REJECT,
    MIN_SERVER_VER_AUTO_CANCEL_PARENT,
    MIN_SERVER_VER_DURATION,
    MIN_SERVER_VER_FA_PROFILE_DESUPPORT,
    MIN_SERVER_VER_PEGBEST_PEGMID_OFFSETS,
    MIN_SERVER_VER_PENDING_PRICE_REVISION,
    MIN_SERVER_VER_POST_TO_ATS,
    MIN_SERVER_VER_SIZE_RULES,
    Out,
)
from .universe import Instrument
from .wire import UNSET_DOUBLE, UNSET_INTEGER, Field

Fields = list[Field]


def _size(value: float) -> Field:
    """Sizes: whole numbers as integers (ibapi 9.81 decodes them as int)."""
    return int(value) if float(value).is_integer() else value


def contract_fields(inst: Instrument, exchange: str | None = None) -> Fields:
    """conId, symbol, secType, lastTradeDate, strike, right, multiplier, exchange,
    currency, localSymbol, tradingClass (no primaryExchange: execDetails/position)."""
    return [
        inst.con_id,
        inst.symbol,
        inst.sec_type,
        inst.last_trade_date,
        inst.strike,
        inst.right,
        inst.multiplier,
        inst.exchange if exchange is None else exchange,
        inst.currency,
        inst.local_symbol,
        inst.trading_class,
    ]


def error(v: int, req_id: int, code: int, text: str, advanced_json: str = "") -> Fields:
    fields: Fields = [Out.ERR_MSG, 2, req_id, code, text]
    if v >= MIN_SERVER_VER_ADVANCED_ORDER_REJECT:
        fields.append(advanced_json)
    return fields


def next_valid_id(order_id: int) -> Fields:
    return [Out.NEXT_VALID_ID, 1, order_id]


def managed_accounts(accounts: Sequence[str]) -> Fields:
    return [Out.MANAGED_ACCTS, 1, ",".join(accounts)]


def current_time(epoch: int) -> Fields:
    return [Out.CURRENT_TIME, 1, epoch]


def tick_price(req_id: int, tick_type: int, price: float, size: float, attrib: int = 0) -> Fields:
    return [Out.TICK_PRICE, 6, req_id, tick_type, price, _size(size), attrib]


def tick_size(req_id: int, tick_type: int, size: float) -> Fields:
    return [Out.TICK_SIZE, 6, req_id, tick_type, _size(size)]


def tick_string(req_id: int, tick_type: int, value: str) -> Fields:
    return [Out.TICK_STRING, 6, req_id, tick_type, value]


def tick_generic(req_id: int, tick_type: int, value: float) -> Fields:
    return [Out.TICK_GENERIC, 6, req_id, tick_type, value]


def tick_snapshot_end(req_id: int) -> Fields:
    return [Out.TICK_SNAPSHOT_END, 1, req_id]


def market_data_type(req_id: int, data_type: int) -> Fields:
    return [Out.MARKET_DATA_TYPE, 1, req_id, data_type]


def tick_req_params(req_id: int, min_tick: float, bbo_exchange: str, permissions: int) -> Fields:
    return [Out.TICK_REQ_PARAMS, req_id, min_tick, bbo_exchange, permissions]


def contract_details(v: int, req_id: int, inst: Instrument) -> Fields:
    fields: Fields = [Out.CONTRACT_DATA]
    if v < MIN_SERVER_VER_SIZE_RULES:
        fields.append(8)  # message version
    fields += [
        req_id,
        inst.symbol,
        inst.sec_type,
        inst.last_trade_date,  # lastTradeDateOrContractMonth
        inst.strike,
        inst.right,
        inst.exchange,
        inst.currency,
        inst.local_symbol,
        inst.trading_class,  # marketName
        inst.trading_class,
        inst.con_id,
        inst.min_tick,
    ]
    if v < MIN_SERVER_VER_SIZE_RULES:
        fields.append(1)  # mdSizeMultiplier (obsolete)
    fields += [
        inst.multiplier,
        inst.order_types,
        inst.valid_exchanges,
        inst.price_magnifier,
        inst.under_con_id,
        inst.long_name.encode("unicode-escape").decode(),
        inst.primary_exchange,
        inst.contract_month,
        inst.industry,
        inst.category,
        "",  # subcategory
        inst.time_zone_id,
        inst.trading_hours,
        inst.liquid_hours,
        "",  # evRule
        "",  # evMultiplier
        0,  # secIdList count
        inst.agg_group,
        inst.under_symbol,
        inst.under_sec_type,
        _market_rules(inst),
        inst.real_expiration_date,
        (inst.stock_type or "COMMON") if inst.sec_type == "STK" else "",  # stockType
    ]
    if v == MIN_SERVER_VER_SIZE_RULES - 1:
        fields.append("1")  # suggestedSizeIncrement
    if v >= MIN_SERVER_VER_SIZE_RULES:
        fields += _size_rules(inst)
    return fields


def _market_rules(inst: Instrument) -> str:
    if inst.market_rule_ids:
        return inst.market_rule_ids
    return "26" if inst.sec_type == "STK" else "239"


def _size_rules(inst: Instrument) -> list[str]:
    """minSize, sizeIncrement, suggestedSizeIncrement."""
    if inst.size_increment:
        return [inst.size_increment, inst.size_increment, inst.size_increment]
    return ["1", "1", "100" if inst.sec_type == "STK" else "1"]


def bond_contract_details(v: int, req_id: int, inst: Instrument) -> Fields:
    """BOND_CONTRACT_DATA (18), as ib_async's Decoder.bondContractDetails and ibapi's
    processBondContractDataMsg read it."""
    fields: Fields = [Out.BOND_CONTRACT_DATA]
    if v < MIN_SERVER_VER_SIZE_RULES:
        fields.append(6)  # message version
    fields += [
        req_id,
        inst.symbol,
        inst.sec_type,
        inst.cusip,
        inst.coupon,
        inst.last_trade_date,  # maturity
        inst.issue_date,
        "",  # ratings
        inst.bond_type,
        inst.coupon_type,
        0,  # convertible
        0,  # callable
        0,  # putable
        inst.desc_append,
        inst.exchange,
        inst.currency,
        inst.trading_class,  # marketName
        inst.trading_class,
        inst.con_id,
        inst.min_tick,
    ]
    if 110 <= v < MIN_SERVER_VER_SIZE_RULES:  # MIN_SERVER_VER_MD_SIZE_MULTIPLIER = 110
        fields.append(1)  # mdSizeMultiplier (obsolete)
    fields += [
        inst.order_types,
        inst.valid_exchanges,
        "",  # nextOptionDate
        "",  # nextOptionType
        0,  # nextOptionPartial
        "",  # notes
        inst.long_name,
        "",  # evRule
        "",  # evMultiplier
        0,  # secIdList count
    ]
    if v >= 121:  # MIN_SERVER_VER_AGG_GROUP (ibapi server_versions.py)
        fields.append(inst.agg_group)
    if v >= 126:  # MIN_SERVER_VER_MARKET_RULES
        fields.append(_market_rules(inst))
    if v >= MIN_SERVER_VER_SIZE_RULES:
        fields += _size_rules(inst)
    return fields


def tick_option_computation(
    v: int,
    req_id: int,
    tick_type: int,
    implied_vol: float,
    delta: float,
    opt_price: float,
    pv_dividend: float,
    gamma: float,
    vega: float,
    theta: float,
    und_price: float,
) -> Fields:
    """TICK_OPTION_COMPUTATION (21): the version field goes and tickAttrib (0: return
    based) comes at 156, MIN_SERVER_VER_PRICE_BASED_VOLATILITY (ibapi decoder)."""
    head: Fields = [Out.TICK_OPTION_COMPUTATION]
    if v < 156:
        head += [6, req_id, tick_type]
    else:
        head += [req_id, tick_type, 0]
    return [*head, implied_vol, delta, opt_price, pv_dividend, gamma, vega, theta, und_price]


def contract_details_end(req_id: int) -> Fields:
    return [Out.CONTRACT_DATA_END, 1, req_id]


def symbol_samples(req_id: int, instruments: Sequence[Instrument]) -> Fields:
    fields: Fields = [Out.SYMBOL_SAMPLES, req_id, len(instruments)]
    for inst in instruments:
        fields += [
            inst.con_id,
            inst.symbol,
            inst.sec_type,
            inst.primary_exchange or inst.exchange,
            inst.currency,
            0,  # derivative sec types
        ]
    return fields


def account_value(key: str, value: str, currency: str, account: str) -> Fields:
    return [Out.ACCT_VALUE, 2, key, value, currency, account]


def portfolio_value(
    inst: Instrument,
    position: float,
    market_price: float,
    market_value: float,
    average_cost: float,
    unrealized: float,
    realized: float,
    account: str,
) -> Fields:
    return [
        Out.PORTFOLIO_VALUE,
        8,
        inst.con_id,
        inst.symbol,
        inst.sec_type,
        inst.last_trade_date,
        inst.strike,
        inst.right,
        inst.multiplier,
        inst.primary_exchange or inst.exchange,
        inst.currency,
        inst.local_symbol,
        inst.trading_class,
        _size(position),
        market_price,
        market_value,
        average_cost,
        unrealized,
        realized,
        account,
    ]


def account_update_time(hhmm: str) -> Fields:
    return [Out.ACCT_UPDATE_TIME, 1, hhmm]


def account_download_end(account: str) -> Fields:
    return [Out.ACCT_DOWNLOAD_END, 1, account]


def position(account: str, inst: Instrument, qty: float, avg_cost: float) -> Fields:
    return [Out.POSITION_DATA, 3, account, *contract_fields(inst), _size(qty), avg_cost]


def position_multi(
    req_id: int, account: str, inst: Instrument, qty: float, avg_cost: float, model_code: str
) -> Fields:
    return [
        Out.POSITION_MULTI,
        1,
        req_id,
        account,
        *contract_fields(inst),
        _size(qty),
        avg_cost,
        model_code,
    ]


def position_multi_end(req_id: int) -> Fields:
    return [Out.POSITION_MULTI_END, 1, req_id]


def account_update_multi(
    req_id: int, account: str, model_code: str, key: str, value: str, currency: str
) -> Fields:
    return [Out.ACCOUNT_UPDATE_MULTI, 1, req_id, account, model_code, key, value, currency]


def account_update_multi_end(req_id: int) -> Fields:
    return [Out.ACCOUNT_UPDATE_MULTI_END, 1, req_id]


def position_end() -> Fields:
    return [Out.POSITION_END, 1]


def account_summary(req_id: int, account: str, tag: str, value: str, currency: str) -> Fields:
    return [Out.ACCOUNT_SUMMARY, 1, req_id, account, tag, value, currency]


def account_summary_end(req_id: int) -> Fields:
    return [Out.ACCOUNT_SUMMARY_END, 1, req_id]


def pnl(req_id: int, daily: float, unrealized: float, realized: float) -> Fields:
    return [Out.PNL, req_id, daily, unrealized, realized]


def pnl_single(
    req_id: int, pos: float, daily: float, unrealized: float, realized: float, value: float
) -> Fields:
    return [Out.PNL_SINGLE, req_id, _size(pos), daily, unrealized, realized, value]


def open_order_end() -> Fields:
    return [Out.OPEN_ORDER_END, 1]


def completed_orders_end() -> Fields:
    return [Out.COMPLETED_ORDERS_END]


def execution_end(req_id: int) -> Fields:
    return [Out.EXECUTION_DATA_END, 1, req_id]


def order_status(
    order_id: int,
    status: str,
    filled: float,
    remaining: float,
    avg_fill_price: float,
    perm_id: int,
    parent_id: int,
    last_fill_price: float,
    client_id: int,
    why_held: str = "",
    mkt_cap_price: float = 0.0,
) -> Fields:
    return [
        Out.ORDER_STATUS,
        order_id,
        status,
        _size(filled),
        _size(remaining),
        avg_fill_price,
        perm_id,
        parent_id,
        last_fill_price,
        client_id,
        why_held,
        mkt_cap_price,
    ]


def execution(
    v: int,
    req_id: int,
    order_id: int,
    inst: Instrument,
    exec_id: str,
    time: str,
    account: str,
    exchange: str,
    side: str,
    shares: float,
    price: float,
    perm_id: int,
    client_id: int,
    cum_qty: float,
    avg_price: float,
    order_ref: str,
) -> Fields:
    fields: Fields = [
        Out.EXECUTION_DATA,
        req_id,
        order_id,
        *contract_fields(inst, exchange=exchange),
        exec_id,
        time,
        account,
        exchange,
        side,
        _size(shares),
        price,
        perm_id,
        client_id,
        0,  # liquidation
        _size(cum_qty),
        avg_price,
        order_ref,
        "",  # evRule
        "",  # evMultiplier
        "",  # modelCode
        2,  # lastLiquidity: removed liquidity
    ]
    if v >= MIN_SERVER_VER_PENDING_PRICE_REVISION:
        fields.append(0)
    return fields


def commission_report(
    exec_id: str, commission: float, currency: str, realized_pnl: float
) -> Fields:
    return [Out.COMMISSION_REPORT, 1, exec_id, commission, currency, realized_pnl, "", ""]


def historical_data(req_id: int, start: str, end: str, bars: Sequence[Sequence[Field]]) -> Fields:
    """bars: (date, open, high, low, close, volume, wap, count) each."""
    fields: Fields = [Out.HISTORICAL_DATA, req_id, start, end, len(bars)]
    for bar in bars:
        fields += list(bar)
    return fields


def head_timestamp(req_id: int, timestamp: str) -> Fields:
    return [Out.HEAD_TIMESTAMP, req_id, timestamp]


@dataclass(frozen=True)
class OpenOrderView:
    """What OPEN_ORDER reports about one order (and, for what-if, its margin impact)."""

    order_id: int
    instrument: Instrument
    action: str
    total_qty: float
    order_type: str
    lmt_price: float | None
    aux_price: float | None
    tif: str
    account: str
    order_ref: str
    client_id: int
    perm_id: int
    status: str
    what_if: bool = False
    # initMargin/maintMargin/equityWithLoan: before, change, after (9 values, as strings).
    margin_fields: tuple[str, ...] = ("",) * 9
    commission: float | None = None
    min_commission: float | None = None
    max_commission: float | None = None
    commission_currency: str = ""
    warning_text: str = ""


def _unset(value: float | None) -> Field:
    return UNSET_DOUBLE if value is None else value


def open_order(v: int, order: OpenOrderView) -> Fields:
    """OPEN_ORDER for a plain stock/FX order (no combo legs, algos or conditions),
    laid out as ib_async's Decoder.openOrder reads it (no version field at >= 145)."""
    inst = order.instrument
    f: Fields = [
        Out.OPEN_ORDER,
        order.order_id,
        *contract_fields(inst),
        order.action,
        _size(order.total_qty),
        order.order_type,
        _unset(order.lmt_price),
        _unset(order.aux_price),
        order.tif,
        "",  # ocaGroup
        order.account,
        "O" if inst.sec_type != "CASH" else "",  # openClose
        0,  # origin: customer
        order.order_ref,
        order.client_id,
        order.perm_id,
        0,  # outsideRth
        0,  # hidden
        0.0,  # discretionaryAmt
        "",  # goodAfterTime
        "",  # sharesAllocation (deprecated)
        "",  # faGroup
        "",  # faMethod
        "",  # faPercentage
    ]
    if v < MIN_SERVER_VER_FA_PROFILE_DESUPPORT:
        f.append("")  # faProfile
    f += [
        "",  # modelCode
        "",  # goodTillDate
        "",  # rule80A
        UNSET_DOUBLE,  # percentOffset
        "",  # settlingFirm
        0,  # shortSaleSlot
        "",  # designatedLocation
        -1,  # exemptCode
        0,  # auctionStrategy
        UNSET_DOUBLE,  # startingPrice
        UNSET_DOUBLE,  # stockRefPrice
        UNSET_DOUBLE,  # delta
        UNSET_DOUBLE,  # stockRangeLower
        UNSET_DOUBLE,  # stockRangeUpper
        UNSET_INTEGER,  # displaySize
        0,  # blockOrder
        0,  # sweepToFill
        0,  # allOrNone
        UNSET_INTEGER,  # minQty
        3,  # ocaType
        0,  # eTradeOnly
        0,  # firmQuoteOnly
        UNSET_DOUBLE,  # nbboPriceCap
        0,  # parentId
        0,  # triggerMethod
        UNSET_DOUBLE,  # volatility
        0,  # volatilityType
        "",  # deltaNeutralOrderType (none: the 8 delta-neutral fields are absent)
        UNSET_DOUBLE,  # deltaNeutralAuxPrice
    ]
    f += [
        0,  # continuousUpdate
        0,  # referencePriceType
        UNSET_DOUBLE,  # trailStopPrice
        UNSET_DOUBLE,  # trailingPercent
        UNSET_DOUBLE,  # basisPoints
        UNSET_INTEGER,  # basisPointsType
        "",  # comboLegsDescrip
        0,  # comboLegs count
        0,  # orderComboLegs count
        0,  # smartComboRoutingParams count
        UNSET_INTEGER,  # scaleInitLevelSize
        UNSET_INTEGER,  # scaleSubsLevelSize
        UNSET_DOUBLE,  # scalePriceIncrement
        "",  # hedgeType
        0,  # optOutSmartRouting
        "",  # clearingAccount
        "IB",  # clearingIntent
        0,  # notHeld
        0,  # deltaNeutralContract present
        "",  # algoStrategy
        0,  # solicited
        int(order.what_if),
        order.status,
        *order.margin_fields,
        _unset(order.commission),
        _unset(order.min_commission),
        _unset(order.max_commission),
        order.commission_currency,
        order.warning_text,
        0,  # randomizeSize
        0,  # randomizePrice
        0,  # conditions count
        "None",  # adjustedOrderType
        UNSET_DOUBLE,  # triggerPrice
        UNSET_DOUBLE,  # trailStopPrice
        UNSET_DOUBLE,  # lmtPriceOffset
        UNSET_DOUBLE,  # adjustedStopPrice
        UNSET_DOUBLE,  # adjustedStopLimitPrice
        UNSET_DOUBLE,  # adjustedTrailingAmount
        0,  # adjustableTrailingUnit
        "",  # softDollarTier name
        "",  # softDollarTier value
        "",  # softDollarTier displayName
        UNSET_DOUBLE,  # cashQty
        0,  # dontUseAutoPriceForHedge
        0,  # isOmsContainer
        0,  # discretionaryUpToLimitPrice
        "",  # usePriceMgmtAlgo
    ]
    if v >= MIN_SERVER_VER_DURATION:
        f.append(UNSET_INTEGER)  # duration
    if v >= MIN_SERVER_VER_POST_TO_ATS:
        f.append(UNSET_INTEGER)  # postToAts
    if v >= MIN_SERVER_VER_AUTO_CANCEL_PARENT:
        f.append(0)  # autoCancelParent
    if v >= MIN_SERVER_VER_PEGBEST_PEGMID_OFFSETS:
        f += [UNSET_INTEGER, UNSET_INTEGER, UNSET_DOUBLE, UNSET_DOUBLE, UNSET_DOUBLE]
    return f
