"""The simulated paper account: cash per currency, positions, P&L and margin.

Numbers follow IBKR's conventions (IBKR's account-value docs; a captured TWS stream in
PyAlgoTrade's tests; ib_async's decoder):
- Cash is held per currency (CashBalance); buying SAP on IBIS spends EUR, an FX trade on
  EUR.USD moves EUR and USD cash (the EUR.USD "position" is the same money, not extra
  value). Every currency also gets a `BASE` row: the sum converted at the account's own
  ExchangeRate (units of base currency per unit of the currency, as TWS sends it).
- averageCost is per contract including the multiplier (an option bought at 6.10 has
  averageCost 610 + commission), per bond in money (price % x face / 100), per share
  otherwise; a buy adds its commission to the cost, a short sale subtracts it.
- marketValue is quantity x price x multiplier in the contract's currency; for a future
  that is its notional, which is not part of the account's value: a future adds its P&L
  since the last settlement (FuturesPNL), and TWS counts that in CashBalance ("cash
  recognized at the time of trade + futures PNL").
- NetLiquidationByCurrency = CashBalance + stock, option, future-option, bond and crypto
  values in that currency; NetLiquidation = its BASE row.
- Margin: Reg-T stocks (long 50% / 25%, short 50% / 30%), FX positions 3% / 2.5%, long
  options none (but no loan value), short options premium + max(20% of the underlying -
  out-of-the-money amount, 10% of strike (puts) or underlying (calls)), futures 7.5% /
  6.8% of notional, Treasuries 6% / 5%, crypto fully paid (100%).
Commissions are charged in the contract's currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .market import Market
from .universe import Instrument, Universe

LONG_INIT, LONG_MAINT = 0.50, 0.25
SHORT_INIT, SHORT_MAINT = 0.50, 0.30
FX_INIT, FX_MAINT = 0.03, 0.025
FUT_INIT, FUT_MAINT = 0.075, 0.068
BOND_INIT, BOND_MAINT = 0.06, 0.05
BUYING_POWER_MULTIPLIER = 4  # margin account: (EWL - initial margin) x 4

DEFAULT_POSITIONS: dict[str, tuple[float, float]] = {
    "AAPL": (100, 175.20),
    "MSFT": (40, 402.15),
    "SPY": (25, 510.30),
    "NVDA": (60, 118.40),
}

# reqAccountSummary tags, in the order TWS lists them (AccountSummaryTags.AllTags).
SUMMARY_TAGS = (
    "AccountType",
    "NetLiquidation",
    "TotalCashValue",
    "SettledCash",
    "AccruedCash",
    "BuyingPower",
    "EquityWithLoanValue",
    "PreviousDayEquityWithLoanValue",
    "GrossPositionValue",
    "RegTEquity",
    "RegTMargin",
    "SMA",
    "InitMarginReq",
    "MaintMarginReq",
    "AvailableFunds",
    "ExcessLiquidity",
    "Cushion",
    "FullInitMarginReq",
    "FullMaintMarginReq",
    "FullAvailableFunds",
    "FullExcessLiquidity",
    "LookAheadNextChange",
    "LookAheadInitMarginReq",
    "LookAheadMaintMarginReq",
    "LookAheadAvailableFunds",
    "LookAheadExcessLiquidity",
    "HighestSeverity",
    "DayTradesRemaining",
    "DayTradesRemainingT+1",
    "DayTradesRemainingT+2",
    "DayTradesRemainingT+3",
    "DayTradesRemainingT+4",
    "Leverage",
)
_NO_CURRENCY_TAGS = {
    "AccountType",
    "Cushion",
    "DayTradesRemaining",
    "DayTradesRemainingT+1",
    "DayTradesRemainingT+2",
    "DayTradesRemainingT+3",
    "DayTradesRemainingT+4",
    "Leverage",
    "LookAheadNextChange",
    "HighestSeverity",
}
# Tags TWS sends once per currency and once for BASE (reqAccountUpdates; the $LEDGER
# tags of reqAccountSummary). Zero rows are sent too, as TWS does.
LEDGER_TAGS = (
    "AccruedCash",
    "CashBalance",
    "CorporateBondValue",
    "Cryptocurrency",
    "ExchangeRate",
    "FundValue",
    "FutureOptionValue",
    "FuturesPNL",
    "FxCashBalance",
    "IssuerOptionValue",
    "MoneyMarketFundValue",
    "MutualFundValue",
    "NetDividend",
    "NetLiquidationByCurrency",
    "OptionMarketValue",
    "RealizedPnL",
    "StockMarketValue",
    "TBillValue",
    "TBondValue",
    "TotalCashBalance",
    "UnrealizedPnL",
    "WarrantValue",
)
# Which ledger tag holds a position's value, by secType (futures: their P&L, FX: none).
VALUE_TAG = {
    "STK": "StockMarketValue",
    "OPT": "OptionMarketValue",
    "FOP": "FutureOptionValue",
    "BOND": "TBondValue",
    "CRYPTO": "Cryptocurrency",
}


@dataclass
class AccountValue:
    tag: str
    value: str
    currency: str
    account: str = ""


@dataclass
class PortfolioItem:
    instrument: Instrument
    position: float
    market_price: float
    market_value: float
    average_cost: float
    unrealized_pnl: float
    realized_pnl: float


@dataclass
class Position:
    instrument: Instrument
    qty: float = 0.0
    avg_cost: float = 0.0  # IBKR's averageCost: per contract incl. multiplier, commissions in
    realized_pnl: float = 0.0  # realized today, in the contract's currency
    start_qty: float = 0.0  # quantity held at the previous close
    cash_flow: float = 0.0  # today's money from trades (+ sells, - buys), commissions in
    commissions: float = 0.0  # today's commissions counted in cash_flow


@dataclass
class MarginSnapshot:
    init: float
    maint: float
    equity_with_loan: float


def mark_price(market: Market, instrument: Instrument) -> float:
    """The price positions are valued at: the midpoint for FX, options and bonds, the
    last trade otherwise."""
    q = market.quote(instrument.key)
    if instrument.is_fx or instrument.sec_type in ("OPT", "FOP", "BOND"):
        return q.mid
    return q.last


def margin_rates(instrument: Instrument, qty: float) -> tuple[float, float]:
    """(initial, maintenance) as a fraction of the position's value, where that applies."""
    if instrument.is_fx:
        return FX_INIT, FX_MAINT
    if instrument.sec_type == "FUT":
        return FUT_INIT, FUT_MAINT
    if instrument.sec_type == "BOND":
        return BOND_INIT, BOND_MAINT
    if instrument.sec_type == "CRYPTO":
        return 1.0, 1.0
    if instrument.sec_type in ("OPT", "FOP"):
        return (0.0, 0.0) if qty >= 0 else (1.0, 1.0)
    return (LONG_INIT, LONG_MAINT) if qty >= 0 else (SHORT_INIT, SHORT_MAINT)


def margin_requirement(market: Market, instrument: Instrument, qty: float) -> tuple[float, float]:
    """(initial, maintenance) margin of `qty` of `instrument`, in its currency."""
    if qty == 0:
        return 0.0, 0.0
    px = mark_price(market, instrument)
    value = abs(qty * px * instrument.value_factor)
    if instrument.sec_type in ("OPT", "FOP"):
        if qty > 0:
            return 0.0, 0.0
        und = mark_price(market, market.instrument(instrument.under_key))
        if instrument.right == "P":
            otm = max(0.0, und - instrument.strike)
            floor = 0.10 * instrument.strike
        else:
            otm = max(0.0, instrument.strike - und)
            floor = 0.10 * und
        per_unit = px + max(0.20 * und - otm, floor)
        req = abs(qty) * per_unit * instrument.value_factor
        return req, req
    i_rate, m_rate = margin_rates(instrument, qty)
    return value * i_rate, value * m_rate


def _money(value: float) -> str:
    return f"{value:.2f}"


def rate_text(rate: float) -> str:
    """An ExchangeRate value as TWS writes it ("1.00" for the base, e.g. "1.0853", "0.0066489")."""
    return "1.00" if rate == 1.0 else f"{rate:.6g}"


@dataclass
class Ledger:
    """One currency's row of the account (or the BASE sum)."""

    values: dict[str, float] = field(default_factory=lambda: dict.fromkeys(LEDGER_TAGS, 0.0))

    def add(self, tag: str, amount: float) -> None:
        self.values[tag] += amount


class Account:
    """One paper account.

    `positions` seeds {key: (qty, averageCost)} held since yesterday (key as the market
    names instruments: "AAPL", "SAP@IBIS", "ESZ6", "EUR.USD"); `balances` seeds cash per
    currency (default: `cash` in the base currency).
    """

    def __init__(
        self,
        account_id: str = "DU1234567",
        base_currency: str = "USD",
        cash: float = 250_000.0,
        positions: dict[str, tuple[float, float]] | None = None,
        account_type: str = "INDIVIDUAL",
        balances: dict[str, float] | None = None,
        universe: Universe | None = None,
    ) -> None:
        from .universe import STOCKS_UNIVERSE

        self.account_id = account_id
        self.base_currency = base_currency
        self.account_type = account_type
        self.balances: dict[str, float] = {base_currency: float(cash)}
        if balances is not None:
            self.balances = {cur: float(v) for cur, v in balances.items()}
            self.balances.setdefault(base_currency, 0.0)
        self.start_balances = dict(self.balances)
        self._rates: dict[str, float] = {base_currency: 1.0}
        self._positions: dict[int, Position] = {}
        universe = universe or STOCKS_UNIVERSE
        seed = DEFAULT_POSITIONS if positions is None else positions
        for key, (qty, avg) in seed.items():
            try:
                inst = universe.by_key(key)
            except KeyError:
                inst = universe.find(key) or universe.find(local_symbol=key)
            if inst is None:
                raise ValueError(f"unknown instrument {key!r}")
            self._positions[inst.con_id] = Position(inst, float(qty), float(avg), 0.0, float(qty))

    # --- cash ---------------------------------------------------------------------------

    @property
    def cash(self) -> float:
        """Cash in the base currency."""
        return self.balances[self.base_currency]

    @cash.setter
    def cash(self, value: float) -> None:
        self.balances[self.base_currency] = float(value)

    @property
    def start_cash(self) -> float:
        return self.start_balances.get(self.base_currency, 0.0)

    @property
    def realized_pnl(self) -> float:
        """Today's realized P&L in the base currency (at the last rates used)."""
        return sum(
            p.realized_pnl * self._rates.get(p.instrument.currency, 1.0)
            for p in self._positions.values()
        )

    def currencies(self) -> list[str]:
        """The currencies this account has rows for: the base first, then the others."""
        seen = set(self.balances)
        for p in self._positions.values():
            seen.add(p.instrument.currency)
            if p.instrument.is_fx:
                seen.add(p.instrument.symbol)
        others = sorted(c for c in seen if c != self.base_currency)
        return [self.base_currency, *others]

    def rates(self, market: Market) -> dict[str, float]:
        """ExchangeRate per currency, rounded as sent: every conversion uses these."""
        self._rates = {
            cur: float(rate_text(market.fx_rate(cur, self.base_currency)))
            for cur in self.currencies()
        }
        return dict(self._rates)

    @staticmethod
    def commission_currency(instrument: Instrument) -> str:
        """Commissions are charged in the contract's currency (USD for EUR.USD)."""
        return instrument.currency

    def trade_cash(
        self, instrument: Instrument, signed_qty: float, price: float, commission: float, market
    ) -> float:
        """What a fill would do to the account's cash, in the base currency (futures: only
        the commission). For what-if margins."""
        rate = market.fx_rate(instrument.currency, self.base_currency)
        if instrument.sec_type == "FUT":
            return -commission * rate
        if instrument.is_fx:
            own = market.fx_rate(instrument.symbol, self.base_currency)
            return signed_qty * own - (signed_qty * price + commission) * rate
        return (-signed_qty * price * instrument.value_factor - commission) * rate

    # --- trading ------------------------------------------------------------------------

    def apply_fill(
        self,
        instrument: Instrument,
        side: str,
        qty: float,
        price: float,
        commission: float,
        commission_currency: str | None = None,
    ) -> float:
        """Book a fill; returns the realized P&L of this fill in the contract's currency
        (0.0 when it only opens). Cash moves in the contract's currency (FX: both sides
        of the pair); a future's fill moves only its commission."""
        if qty <= 0:
            raise ValueError("fill quantity must be positive")
        side = side.upper()
        if side in ("BOT", "BUY"):
            signed = qty
        elif side in ("SLD", "SELL"):
            signed = -qty
        else:
            raise ValueError(f"side must be BUY or SELL, not {side!r}")
        pos = self._positions.get(instrument.con_id)
        if pos is None:
            pos = self._positions[instrument.con_id] = Position(instrument)
        cur = instrument.currency
        com_cur = commission_currency or self.commission_currency(instrument)
        value = qty * price * instrument.value_factor
        flow = -value - commission if signed > 0 else value - commission
        if com_cur != cur:
            flow = -value if signed > 0 else value
        else:
            pos.commissions += commission
        pos.cash_flow += flow
        if instrument.sec_type != "FUT":
            self.balances[cur] = self.balances.get(cur, 0.0) + (-value if signed > 0 else value)
        if instrument.is_fx:
            base_cur = instrument.symbol
            self.balances[base_cur] = self.balances.get(base_cur, 0.0) + signed
        self.balances[com_cur] = self.balances.get(com_cur, 0.0) - commission

        realized = 0.0
        old = pos.qty
        if old == 0 or (old > 0) == (signed > 0):
            # Opening or adding: commission is part of the cost (reduces short proceeds).
            new = old + signed
            total_cost = abs(old) * pos.avg_cost + (
                value + commission if signed > 0 else value - commission
            )
            pos.avg_cost = total_cost / abs(new)
            pos.qty = new
        else:
            unit = price * instrument.value_factor
            closing = min(abs(signed), abs(old))
            opening = abs(signed) - closing
            close_comm = commission * closing / qty
            open_comm = commission - close_comm
            direction = 1.0 if old > 0 else -1.0  # closing a long sells, a short buys
            realized = direction * (unit - pos.avg_cost) * closing - close_comm
            pos.qty = old + (closing if signed > 0 else -closing)
            if opening > 0:  # flipped through zero: the rest opens at this price
                pos.qty = opening if signed > 0 else -opening
                if signed > 0:
                    pos.avg_cost = (opening * unit + open_comm) / opening
                else:
                    pos.avg_cost = (opening * unit - open_comm) / opening
            elif pos.qty == 0:
                pos.avg_cost = 0.0
        pos.realized_pnl += realized
        return realized

    # --- views --------------------------------------------------------------------------

    def position(self, con_id: int) -> Position | None:
        return self._positions.get(con_id)

    def positions(self) -> list[tuple[Instrument, float, float]]:
        """(instrument, qty, avg_cost) for every position touched today (closed ones at 0)."""
        return [(p.instrument, p.qty, p.avg_cost) for p in self._positions.values()]

    def _item(self, p: Position, market: Market) -> PortfolioItem:
        px = mark_price(market, p.instrument)
        mv = p.qty * px * p.instrument.value_factor
        return PortfolioItem(
            instrument=p.instrument,
            position=p.qty,
            market_price=px,
            market_value=mv,
            average_cost=p.avg_cost,
            unrealized_pnl=mv - p.qty * p.avg_cost,
            realized_pnl=p.realized_pnl,
        )

    def portfolio(self, market: Market) -> list[PortfolioItem]:
        """updatePortfolio rows: money in each contract's own currency."""
        return [self._item(p, market) for p in self._positions.values()]

    def _futures_pnl(self, p: Position, market: Market) -> float:
        """A future's change in value since the last settlement (the previous close)."""
        q = market.quote(p.instrument.key)
        m = p.instrument.value_factor
        # Commissions are real cash (already booked), not part of the future's P&L.
        gross_flow = p.cash_flow + p.commissions
        return p.qty * mark_price(market, p.instrument) * m + gross_flow - p.start_qty * q.close * m

    def ledgers(self, market: Market) -> tuple[dict[str, Ledger], dict[str, float]]:
        """Per-currency ledgers and the BASE sum (key "BASE"), with the rates used."""
        rates = self.rates(market)
        ledgers = {cur: Ledger() for cur in rates}
        for cur, amount in self.balances.items():
            ledgers[cur].add("CashBalance", amount)
        for p in self._positions.values():
            inst = p.instrument
            led = ledgers[inst.currency]
            item = self._item(p, market)
            led.add("UnrealizedPnL", item.unrealized_pnl)
            led.add("RealizedPnL", p.realized_pnl)
            if inst.sec_type == "FUT":
                led.add("FuturesPNL", self._futures_pnl(p, market))
            elif inst.sec_type in VALUE_TAG:
                led.add(VALUE_TAG[inst.sec_type], item.market_value)
        base = Ledger()
        for cur, led in ledgers.items():
            v = led.values
            v["CashBalance"] += v["FuturesPNL"]
            v["TotalCashBalance"] = v["CashBalance"]
            v["NetLiquidationByCurrency"] = v["CashBalance"] + sum(
                v[tag] for tag in set(VALUE_TAG.values())
            )
            v["ExchangeRate"] = rates[cur]
            for tag in LEDGER_TAGS:
                if tag != "ExchangeRate":
                    base.add(tag, v[tag] * rates[cur])
        base.values["ExchangeRate"] = 1.0
        ledgers["BASE"] = base
        return ledgers, rates

    def margin(
        self,
        market: Market,
        extra: dict[int, tuple[Instrument, float]] | None = None,
        cash_delta: float = 0.0,
    ) -> MarginSnapshot:
        """Initial/maintenance margin and equity with loan in the base currency, optionally
        with hypothetical extra quantities ({con_id: (instrument, signed qty)}) and a cash
        change in the base currency (see `trade_cash`)."""
        rates = self.rates(market)
        qtys: dict[int, tuple[Instrument, float]] = {
            cid: (p.instrument, p.qty) for cid, p in self._positions.items()
        }
        for cid, (inst, dq) in (extra or {}).items():
            q0 = qtys.get(cid, (inst, 0.0))[1]
            qtys[cid] = (inst, q0 + dq)
        init = maint = 0.0
        for inst, q in qtys.values():
            rate = rates.get(inst.currency) or market.fx_rate(inst.currency, self.base_currency)
            i, m = margin_requirement(market, inst, q)
            init += i * rate
            maint += m * rate
        ledgers, _ = self.ledgers(market)
        ewl = self._equity_with_loan(ledgers["BASE"]) + cash_delta
        # The new position's value (options: no loan value; a new future is worth
        # nothing until the price moves).
        for inst, dq in (extra or {}).values():
            if inst.sec_type in ("STK", "BOND", "CRYPTO"):
                rate = market.fx_rate(inst.currency, self.base_currency)
                ewl += dq * mark_price(market, inst) * inst.value_factor * rate
        return MarginSnapshot(init, maint, ewl)

    @staticmethod
    def _equity_with_loan(base: Ledger) -> float:
        # Options have no loan value: EWL is the net liquidation value without them.
        v = base.values
        return v["NetLiquidationByCurrency"] - v["OptionMarketValue"] - v["FutureOptionValue"]

    def _totals(self, market: Market) -> dict[str, float]:
        ledgers, rates = self.ledgers(market)
        base = ledgers["BASE"].values
        long_value = short_value = gross = 0.0
        for p in self._positions.values():
            inst = p.instrument
            if inst.sec_type in ("FUT", "CASH"):
                continue
            mv = self._item(p, market).market_value * rates[inst.currency]
            gross += abs(mv)
            if inst.sec_type == "STK":
                if mv >= 0:
                    long_value += mv
                else:
                    short_value += mv
        m = self.margin(market)
        net_liq = base["NetLiquidationByCurrency"]
        ewl = self._equity_with_loan(ledgers["BASE"])
        reg_t_margin = long_value * LONG_INIT + abs(short_value) * SHORT_INIT
        available = ewl - m.init
        excess = ewl - m.maint
        prev_ewl = sum(amount * rates[cur] for cur, amount in self.start_balances.items())
        for p in self._positions.values():
            inst = p.instrument
            if inst.sec_type in ("STK", "BOND", "CRYPTO"):
                close = market.quote(inst.key).close
                prev_ewl += p.start_qty * close * inst.value_factor * rates[inst.currency]
        return {
            "NetLiquidation": net_liq,
            "TotalCashValue": base["CashBalance"],
            "SettledCash": base["CashBalance"],
            "AccruedCash": 0.0,
            "BuyingPower": max(0.0, available) * BUYING_POWER_MULTIPLIER,
            "EquityWithLoanValue": ewl,
            "PreviousDayEquityWithLoanValue": prev_ewl,
            "GrossPositionValue": gross,
            "StockMarketValue": base["StockMarketValue"],
            "RegTEquity": net_liq,
            "RegTMargin": reg_t_margin,
            "SMA": max(0.0, net_liq - reg_t_margin),
            "InitMarginReq": m.init,
            "MaintMarginReq": m.maint,
            "AvailableFunds": available,
            "ExcessLiquidity": excess,
            "Cushion": excess / net_liq if net_liq else 0.0,
            "FullInitMarginReq": m.init,
            "FullMaintMarginReq": m.maint,
            "FullAvailableFunds": available,
            "FullExcessLiquidity": excess,
            "LookAheadInitMarginReq": m.init,
            "LookAheadMaintMarginReq": m.maint,
            "LookAheadAvailableFunds": available,
            "LookAheadExcessLiquidity": excess,
            "Leverage": gross / net_liq if net_liq else 0.0,
            "UnrealizedPnL": base["UnrealizedPnL"],
            "RealizedPnL": base["RealizedPnL"],
            "FuturesPNL": base["FuturesPNL"],
            "OptionMarketValue": base["OptionMarketValue"],
        }

    def _summary_value(self, tag: str, t: dict[str, float]) -> AccountValue | None:
        cur = "" if tag in _NO_CURRENCY_TAGS else self.base_currency
        if tag == "AccountType":
            return AccountValue(tag, self.account_type, "", self.account_id)
        if tag.startswith("DayTradesRemaining"):  # -1: no pattern-day-trader limit
            return AccountValue(tag, "-1", "", self.account_id)
        if tag == "LookAheadNextChange":
            return AccountValue(tag, "0", "", self.account_id)
        if tag == "HighestSeverity":
            return AccountValue(tag, "0", "", self.account_id)
        if tag == "Cushion":
            return AccountValue(tag, f"{t['Cushion']:.6f}", "", self.account_id)
        if tag == "Leverage":
            return AccountValue(tag, f"{t['Leverage']:.2f}", "", self.account_id)
        if tag in t:
            return AccountValue(tag, _money(t[tag]), cur, self.account_id)
        return None

    def _ledger_rows(self, ledgers: dict[str, Ledger], currencies: list[str]) -> list[AccountValue]:
        a = self.account_id
        out = []
        for cur in currencies:
            for tag, value in ledgers[cur].values.items():
                text = rate_text(value) if tag == "ExchangeRate" else _money(value)
                out.append(AccountValue(tag, text, cur, a))
        return out

    def account_values(self, market: Market) -> list[AccountValue]:
        """The key/value stream TWS sends for reqAccountUpdates (updateAccountValue):
        summary tags in the base currency, ledger tags per currency and BASE, sorted by
        tag then currency as TWS sends them."""
        t = self._totals(market)
        ledgers, rates = self.ledgers(market)
        a = self.account_id
        currencies = [*rates, "BASE"]
        out = [
            AccountValue("AccountCode", a, "", a),
            AccountValue("AccountOrGroup", a, "BASE", a),
            AccountValue("AccountReady", "true", "", a),
            AccountValue("AccountType", self.account_type, "", a),
        ]
        for cur in currencies:
            out.append(AccountValue("AccountOrGroup", a, cur, a))
            out.append(AccountValue("Currency", cur, cur, a))
            real = self.base_currency if cur == "BASE" else cur
            out.append(AccountValue("RealCurrency", real, cur, a))
        for tag in SUMMARY_TAGS:
            if tag == "AccountType":
                continue
            v = self._summary_value(tag, t)
            if v is not None:
                out.append(v)
        out += self._segment_rows(market, t, ledgers["BASE"], rates)
        out += self._ledger_rows(ledgers, currencies)
        head, rest = out[:1], out[1:]
        rest.sort(key=lambda v: (v.tag, v.currency))
        return head + rest

    def _segment_rows(
        self, market: Market, t: dict[str, float], base: Ledger, rates: dict[str, float]
    ) -> list[AccountValue]:
        """The "-S" (securities) and, once the account trades futures, "-C" (commodities)
        variants TWS sends next to the totals: until a commodity is traded the -S value
        equals the total; after, -C holds the futures' part (their P&L, future options'
        value and margin) and -S the rest."""
        a, cur = self.account_id, self.base_currency
        commodities = [
            p for p in self._positions.values() if p.instrument.sec_type in ("FUT", "FOP")
        ]
        c_init = c_maint = 0.0
        for p in commodities:
            i, m = margin_requirement(market, p.instrument, p.qty)
            c_init += i * rates[p.instrument.currency]
            c_maint += m * rates[p.instrument.currency]
        c_ewl = base.values["FuturesPNL"]
        c_nlv = c_ewl + base.values["FutureOptionValue"]
        c = {
            "AccruedCash": 0.0,
            "TotalCashValue": c_ewl,
            "NetLiquidation": c_nlv,
            "EquityWithLoanValue": c_ewl,
            "PreviousDayEquityWithLoanValue": 0.0,
            "InitMarginReq": c_init,
            "MaintMarginReq": c_maint,
            "AvailableFunds": c_ewl - c_init,
            "ExcessLiquidity": c_ewl - c_maint,
        }
        for prefix in ("Full", "LookAhead"):
            for tag in ("InitMarginReq", "MaintMarginReq", "AvailableFunds", "ExcessLiquidity"):
                c[prefix + tag] = c[tag]
        out = []
        for tag, c_value in c.items():
            out.append(AccountValue(f"{tag}-S", _money(t[tag] - c_value), cur, a))
            if commodities:
                out.append(AccountValue(f"{tag}-C", _money(c_value), cur, a))
        for tag in ("GrossPositionValue", "RegTEquity", "RegTMargin", "SMA"):
            out.append(AccountValue(f"{tag}-S", _money(t[tag]), cur, a))
        out.append(AccountValue("Leverage-S", f"{t['Leverage']:.2f}", "", a))
        return out

    def summary(self, market: Market, tags: str = "All") -> list[AccountValue]:
        """reqAccountSummary: "All" or a comma list of tags; "$LEDGER" (base currency),
        "$LEDGER:ALL" (BASE and every currency) and "$LEDGER:EUR" add ledger values."""
        t = self._totals(market)
        wanted = [s.strip() for s in (tags or "").split(",") if s.strip()]
        if not wanted or wanted == ["All"]:
            wanted = list(SUMMARY_TAGS)
        out: list[AccountValue] = []
        ledgers = rates = None
        for tag in wanted:
            if tag.startswith("$LEDGER"):
                if ledgers is None:
                    ledgers, rates = self.ledgers(market)
                _, _, which = tag.partition(":")
                which = which.upper()
                if which == "ALL":
                    currencies = ["BASE", *rates]
                elif which:
                    currencies = [which] if which in ledgers else []
                else:
                    currencies = [self.base_currency]
                out += self._ledger_rows(ledgers, currencies)
                continue
            v = self._summary_value(tag, t)
            if v is not None:
                out.append(v)
        return out

    def value(self, market: Market, tag: str, currency: str = "") -> float:
        """A numeric account value by tag (e.g. "NetLiquidation"), for tests and the UI;
        with `currency` ("EUR", "BASE") a ledger value."""
        if currency:
            ledgers, _ = self.ledgers(market)
            return ledgers[currency].values[tag]
        return self._totals(market)[tag]

    # --- P&L (reqPnL / reqPnLSingle) -----------------------------------------------------

    def _daily_single(self, p: Position, market: Market) -> float:
        """Today's P&L of one position in its own currency, trades and commissions in."""
        q = market.quote(p.instrument.key)
        px = mark_price(market, p.instrument)
        m = p.instrument.value_factor
        return p.qty * px * m + p.cash_flow - p.start_qty * q.close * m

    def daily_pnl(self, market: Market) -> tuple[float, float, float]:
        """(daily, unrealized, realized) in the base currency: daily is the change since
        the previous close, trades and commissions included."""
        rates = self.rates(market)
        daily = sum(
            self._daily_single(p, market) * rates[p.instrument.currency]
            for p in self._positions.values()
        )
        unrealized = sum(
            i.unrealized_pnl * rates[i.instrument.currency] for i in self.portfolio(market)
        )
        return daily, unrealized, self.realized_pnl

    def pnl_single(
        self, con_id: int, market: Market
    ) -> tuple[float, float, float, float, float] | None:
        """(pos, daily, unrealized, realized, value) for one position, None if never held.
        Money in the base currency (TWS's P&L is in the account's base currency)."""
        p = self._positions.get(con_id)
        if p is None:
            return None
        rate = self.rates(market)[p.instrument.currency]
        item = self._item(p, market)
        return (
            p.qty,
            self._daily_single(p, market) * rate,
            item.unrealized_pnl * rate,
            p.realized_pnl * rate,
            item.market_value * rate,
        )
