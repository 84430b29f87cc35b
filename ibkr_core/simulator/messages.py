"""Encoders for the messages the gateway sends, one function per message, laid out
field by field as IBKR's `ibapi` decoder and `ib_async`'s decoder read them at the
negotiated server version. Each returns the list of fields (framing is wire.py's job).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from . import protocol as pv
from .protocol import Out
from .universe import Instrument
from .wire import UNSET_DOUBLE, UNSET_INTEGER, Field

Fields = list[Field]


def _size(value: float) -> Field:
    """Sizes: whole numbers as integers (ibapi 9.81 decodes them as int)."""
    return int(value) if float(value).is_integer() else value


plain_size = _size


def size_encoder(v: int, inst: Instrument) -> Callable[[float], Field]:
    """How market-data sizes of `inst` are written at version `v`: US stock sizes in round
    lots of 100 below MIN_SERVER_VER_MARKET_DATA_IN_SHARES, in shares from it; whole
    numbers below MIN_SERVER_VER_FRACTIONAL_SIZE_SUPPORT."""
    if v >= pv.MIN_SERVER_VER_FRACTIONAL_SIZE_SUPPORT:
        return _size
    per = 100 if v < pv.MIN_SERVER_VER_MARKET_DATA_IN_SHARES and inst.sec_type == "STK" else 1
    return lambda size: round(size / per)


def bar_volume(v: int, inst: Instrument, volume: float) -> Field:
    """A historical bar's volume: US stocks in round lots of 100 below
    MIN_SERVER_VER_HMDS_MARKET_DATA_IN_SHARES; whole numbers below
    MIN_SERVER_VER_FRACTIONAL_SIZE_SUPPORT (ibapi 9.81 reads it as int); -1 (none) as is."""
    if volume < 0:
        return _size(volume)
    if v < pv.MIN_SERVER_VER_HMDS_MARKET_DATA_IN_SHARES and inst.sec_type == "STK":
        volume = volume / 100
    if v < pv.MIN_SERVER_VER_FRACTIONAL_SIZE_SUPPORT:
        return round(volume)
    return _size(volume)


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
    # Version field 2 below MIN_SERVER_VER_ERROR_TIME (194, beyond our range).
    fields: Fields = [Out.ERR_MSG, 2, req_id, code, text]
    if v >= pv.MIN_SERVER_VER_ADVANCED_ORDER_REJECT:
        fields.append(advanced_json)
    return fields


def next_valid_id(order_id: int) -> Fields:
    return [Out.NEXT_VALID_ID, 1, order_id]


def managed_accounts(accounts: Sequence[str]) -> Fields:
    return [Out.MANAGED_ACCTS, 1, ",".join(accounts)]


def current_time(epoch: int) -> Fields:
    return [Out.CURRENT_TIME, 1, epoch]


def tick_price(req_id: int, tick_type: int, price: float, size: Field, attrib: int = 0) -> Fields:
    """TICK_PRICE version 6: size and attribute mask always present in 100..178 (the
    mask's bits pastLimit/preOpen are read from MIN_SERVER_VER_PAST_LIMIT /
    MIN_SERVER_VER_PRE_OPEN_BID_ASK; we send 0)."""
    return [Out.TICK_PRICE, 6, req_id, tick_type, price, size, attrib]


def tick_size(req_id: int, tick_type: int, size: Field) -> Fields:
    return [Out.TICK_SIZE, 6, req_id, tick_type, size]


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
    if v < pv.MIN_SERVER_VER_SIZE_RULES:
        fields.append(pv.CONTRACT_DATA_VERSION)  # dropped at MIN_SERVER_VER_SIZE_RULES
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
    if pv.MIN_SERVER_VER_MD_SIZE_MULTIPLIER <= v < pv.MIN_SERVER_VER_SIZE_RULES:
        fields.append(1)  # mdSizeMultiplier (obsolete)
    long_name = inst.long_name
    if v >= pv.MIN_SERVER_VER_ENCODE_MSG_ASCII7:
        long_name = long_name.encode("unicode-escape").decode()
    fields += [
        inst.multiplier,
        inst.order_types,
        inst.valid_exchanges,
        inst.price_magnifier,
        inst.under_con_id,
        long_name,
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
    ]
    if v >= pv.MIN_SERVER_VER_AGG_GROUP:
        fields.append(inst.agg_group)
    if v >= pv.MIN_SERVER_VER_UNDERLYING_INFO:
        fields += [inst.under_symbol, inst.under_sec_type]
    if v >= pv.MIN_SERVER_VER_MARKET_RULES:
        fields.append(_market_rules(inst))
    if v >= pv.MIN_SERVER_VER_REAL_EXPIRATION_DATE:
        fields.append(inst.real_expiration_date)
    if v >= pv.MIN_SERVER_VER_STOCK_TYPE:
        fields.append((inst.stock_type or "COMMON") if inst.sec_type == "STK" else "")
    if pv.MIN_SERVER_VER_FRACTIONAL_SIZE_SUPPORT <= v < pv.MIN_SERVER_VER_SIZE_RULES:
        fields.append(_size_rules(inst)[0])  # sizeMinTick (obsolete)
    if v >= pv.MIN_SERVER_VER_SIZE_RULES:
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
    """BOND_CONTRACT_DATA (18), as IBKR's processBondContractDataMsg and ib_async's
    Decoder.bondContractDetails read it at version `v`."""
    fields: Fields = [Out.BOND_CONTRACT_DATA]
    if v < pv.MIN_SERVER_VER_SIZE_RULES:
        fields.append(6)  # message version, dropped at MIN_SERVER_VER_SIZE_RULES
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
    if pv.MIN_SERVER_VER_MD_SIZE_MULTIPLIER <= v < pv.MIN_SERVER_VER_SIZE_RULES:
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
    if v >= pv.MIN_SERVER_VER_AGG_GROUP:
        fields.append(inst.agg_group)
    if v >= pv.MIN_SERVER_VER_MARKET_RULES:
        fields.append(_market_rules(inst))
    if v >= pv.MIN_SERVER_VER_SIZE_RULES:
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
    based) comes at MIN_SERVER_VER_PRICE_BASED_VOLATILITY (ibapi decoder)."""
    head: Fields = [Out.TICK_OPTION_COMPUTATION]
    if v < pv.MIN_SERVER_VER_PRICE_BASED_VOLATILITY:
        head += [6, req_id, tick_type]
    else:
        head += [req_id, tick_type, 0]
    return [*head, implied_vol, delta, opt_price, pv_dividend, gamma, vega, theta, und_price]


def contract_details_end(req_id: int) -> Fields:
    return [Out.CONTRACT_DATA_END, 1, req_id]


def symbol_samples(v: int, req_id: int, instruments: Sequence[Instrument]) -> Fields:
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
        if v >= pv.MIN_SERVER_VER_BOND_ISSUERID:
            fields += [inst.long_name, ""]  # description, issuerId
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


def _pnl_parts(v: int, unrealized: float, realized: float) -> Fields:
    parts: Fields = []
    if v >= pv.MIN_SERVER_VER_UNREALIZED_PNL:
        parts.append(unrealized)
    if v >= pv.MIN_SERVER_VER_REALIZED_PNL:
        parts.append(realized)
    return parts


def pnl(v: int, req_id: int, daily: float, unrealized: float, realized: float) -> Fields:
    return [Out.PNL, req_id, daily, *_pnl_parts(v, unrealized, realized)]


def pnl_single(
    v: int,
    req_id: int,
    pos: float,
    daily: float,
    unrealized: float,
    realized: float,
    value: float,
) -> Fields:
    return [Out.PNL_SINGLE, req_id, _size(pos), daily, *_pnl_parts(v, unrealized, realized), value]


def open_order_end() -> Fields:
    return [Out.OPEN_ORDER_END, 1]


def completed_orders_end() -> Fields:
    return [Out.COMPLETED_ORDERS_END]


def execution_end(req_id: int) -> Fields:
    return [Out.EXECUTION_DATA_END, 1, req_id]


def order_status(
    v: int,
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
    fields: Fields = [Out.ORDER_STATUS]
    if v < pv.MIN_SERVER_VER_MARKET_CAP_PRICE:
        fields.append(pv.ORDER_STATUS_VERSION)  # dropped at MIN_SERVER_VER_MARKET_CAP_PRICE
    fields += [
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
    ]
    if v >= pv.MIN_SERVER_VER_MARKET_CAP_PRICE:
        fields.append(mkt_cap_price)
    return fields


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
    last_liquidity: int = 2,
) -> Fields:
    fields: Fields = [Out.EXECUTION_DATA]
    if v < pv.MIN_SERVER_VER_LAST_LIQUIDITY:
        fields.append(pv.EXECUTION_DATA_VERSION)  # dropped at MIN_SERVER_VER_LAST_LIQUIDITY
    fields += [
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
    ]
    if v >= pv.MIN_SERVER_VER_MODELS_SUPPORT:
        fields.append("")  # modelCode
    if v >= pv.MIN_SERVER_VER_LAST_LIQUIDITY:
        fields.append(last_liquidity)  # 1 added, 2 removed liquidity
    if v >= pv.MIN_SERVER_VER_PENDING_PRICE_REVISION:
        fields.append(0)  # pendingPriceRevision
    return fields


def commission_report(
    exec_id: str,
    commission: float,
    currency: str,
    realized_pnl: float,
    yield_: float = UNSET_DOUBLE,
    yield_redemption_date: int = 0,
) -> Fields:
    """COMMISSION_REPORT version 1, the same in 100..178. An opening trade's realizedPNL
    and a stock's yield are TWS's unset double (sent as 1.7976931348623157E308)."""
    return [
        Out.COMMISSION_REPORT,
        1,
        exec_id,
        commission,
        currency,
        realized_pnl,
        yield_,
        yield_redemption_date,
    ]


def historical_data(
    v: int, req_id: int, start: str, end: str, bars: Sequence[Sequence[Field]]
) -> Fields:
    """bars: (date, open, high, low, close, volume, wap, count) each. Below
    MIN_SERVER_VER_SYNT_REALTIME_BARS the message has a version field and every bar a
    hasGaps field between WAP and count."""
    fields: Fields = [Out.HISTORICAL_DATA]
    old = v < pv.MIN_SERVER_VER_SYNT_REALTIME_BARS
    if old:
        fields.append(pv.HISTORICAL_DATA_VERSION)
    fields += [req_id, start, end, len(bars)]
    for bar in bars:
        if old:
            fields += [*bar[:7], "false", bar[7]]
        else:
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
    parent_id: int = 0
    oca_group: str = ""
    oca_type: int = 3
    outside_rth: bool = False
    # initMargin/maintMargin/equityWithLoan: before, change, after (9 values, as strings).
    margin_fields: tuple[str, ...] = ("",) * 9
    commission: float | None = None
    min_commission: float | None = None
    max_commission: float | None = None
    commission_currency: str = ""
    warning_text: str = ""


def _unset(value: float | None) -> Field:
    return UNSET_DOUBLE if value is None else value


def _price(value: float | None) -> Field:
    """lmtPrice/auxPrice: TWS reports a price the order does not have as 0."""
    return 0.0 if value is None or value >= UNSET_DOUBLE else value


def open_order(v: int, order: OpenOrderView) -> Fields:
    """OPEN_ORDER for an order without combo legs, algos or conditions, field by field as
    IBKR's OrderDecoder (decoder.processOpenOrder) reads it at server version `v`."""
    inst = order.instrument
    f: Fields = [Out.OPEN_ORDER]
    if v < pv.MIN_SERVER_VER_ORDER_CONTAINER:
        f.append(pv.OPEN_ORDER_VERSION)  # dropped at MIN_SERVER_VER_ORDER_CONTAINER
    f += [
        order.order_id,
        *contract_fields(inst),  # multiplier and tradingClass: message version >= 32
        order.action,
        _size(order.total_qty),
        order.order_type,
        _price(order.lmt_price),
        _price(order.aux_price),
        order.tif,
        order.oca_group,
        order.account,
        "O" if inst.sec_type != "CASH" else "",  # openClose
        0,  # origin: customer
        order.order_ref,
        order.client_id,
        order.perm_id,
        order.outside_rth,
        0,  # hidden
        0.0,  # discretionaryAmt
        "",  # goodAfterTime
        "",  # sharesAllocation (deprecated)
        "",  # faGroup
        "",  # faMethod
        "",  # faPercentage
    ]
    if v < pv.MIN_SERVER_VER_FA_PROFILE_DESUPPORT:
        f.append("")  # faProfile
    if v >= pv.MIN_SERVER_VER_MODELS_SUPPORT:
        f.append("")  # modelCode
    f += [
        "",  # goodTillDate
        "",  # rule80A
        UNSET_DOUBLE,  # percentOffset
        "",  # settlingFirm
        0,  # shortSaleSlot
        "",  # designatedLocation
        -1,  # exemptCode (message version >= 23)
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
        order.oca_type,
        0,  # eTradeOnly
        0,  # firmQuoteOnly
        UNSET_DOUBLE,  # nbboPriceCap
        order.parent_id,
        0,  # triggerMethod
        UNSET_DOUBLE,  # volatility
        0,  # volatilityType
        "",  # deltaNeutralOrderType (none: the delta-neutral fields are absent)
        UNSET_DOUBLE,  # deltaNeutralAuxPrice
        0,  # continuousUpdate
        0,  # referencePriceType
        UNSET_DOUBLE,  # trailStopPrice
        UNSET_DOUBLE,  # trailingPercent (message version >= 30)
        UNSET_DOUBLE,  # basisPoints
        UNSET_INTEGER,  # basisPointsType
        "",  # comboLegsDescrip (message version >= 29)
        0,  # comboLegs count
        0,  # orderComboLegs count
        0,  # smartComboRoutingParams count (message version >= 26)
        UNSET_INTEGER,  # scaleInitLevelSize (message version >= 20)
        UNSET_INTEGER,  # scaleSubsLevelSize
        UNSET_DOUBLE,  # scalePriceIncrement (unset: no scale fields follow)
        "",  # hedgeType (message version >= 24)
        0,  # optOutSmartRouting (message version >= 25)
        "",  # clearingAccount
        "IB",  # clearingIntent
        0,  # notHeld (message version >= 22)
        0,  # deltaNeutralContract present (message version >= 20)
        "",  # algoStrategy (message version >= 21)
        0,  # solicited (message version >= 33)
        int(order.what_if),
        order.status,
    ]
    margins = order.margin_fields
    if v >= pv.MIN_SERVER_VER_WHAT_IF_EXT_FIELDS:
        f += list(margins[:6])  # before and change of init/maint margin and equity
    f += list(margins[6:])  # after
    f += [
        _unset(order.commission),
        _unset(order.min_commission),
        _unset(order.max_commission),
        order.commission_currency,
        order.warning_text,
        0,  # randomizeSize (message version >= 34)
        0,  # randomizePrice
    ]
    if v >= pv.MIN_SERVER_VER_PEGGED_TO_BENCHMARK:
        # (no PEG BENCH fields for other order types) conditions count, then the
        # adjusted-order fields
        f += [
            0,
            "None",  # adjustedOrderType
            UNSET_DOUBLE,  # triggerPrice
            UNSET_DOUBLE,  # trailStopPrice
            UNSET_DOUBLE,  # lmtPriceOffset
            UNSET_DOUBLE,  # adjustedStopPrice
            UNSET_DOUBLE,  # adjustedStopLimitPrice
            UNSET_DOUBLE,  # adjustedTrailingAmount
            0,  # adjustableTrailingUnit
        ]
    if v >= pv.MIN_SERVER_VER_SOFT_DOLLAR_TIER:
        f += ["", "", ""]  # softDollarTier name, value, displayName
    if v >= pv.MIN_SERVER_VER_CASH_QTY:
        f.append(UNSET_DOUBLE)  # cashQty
    if v >= pv.MIN_SERVER_VER_AUTO_PRICE_FOR_HEDGE:
        f.append(0)  # dontUseAutoPriceForHedge
    if v >= pv.MIN_SERVER_VER_ORDER_CONTAINER:
        f.append(0)  # isOmsContainer
    if v >= pv.MIN_SERVER_VER_D_PEG_ORDERS:
        f.append(0)  # discretionaryUpToLimitPrice
    if v >= pv.MIN_SERVER_VER_PRICE_MGMT_ALGO:
        f.append("")  # usePriceMgmtAlgo (unset)
    if v >= pv.MIN_SERVER_VER_DURATION:
        f.append(UNSET_INTEGER)  # duration
    if v >= pv.MIN_SERVER_VER_POST_TO_ATS:
        f.append(UNSET_INTEGER)  # postToAts
    if v >= pv.MIN_SERVER_VER_AUTO_CANCEL_PARENT:
        f.append(0)  # autoCancelParent
    if v >= pv.MIN_SERVER_VER_PEGBEST_PEGMID_OFFSETS:
        # minTradeQty, minCompeteSize, competeAgainstBestOffset, midOffsetAtWhole/Half
        f += [UNSET_INTEGER, UNSET_INTEGER, UNSET_DOUBLE, UNSET_DOUBLE, UNSET_DOUBLE]
    return f
