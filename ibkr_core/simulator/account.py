"""The simulated paper account: cash, positions, P&L and Reg-T margin.

Numbers follow IBKR's conventions: average cost includes commissions (a buy adds its
commission to the cost, a short sale subtracts it from the proceeds), realized P&L is
booked on reductions net of commission, NetLiquidation = cash + market value of
positions, and margin is Reg-T (long stock 50% initial / 25% maintenance, short stock
50% / 30%; EUR.USD 3% / 2.5%). EUR.USD is held as a position valued in USD rather than
as a separate EUR cash balance, so every number stays in the USD base currency.
"""

from __future__ import annotations

from dataclasses import dataclass

from .market import Market
from .universe import Instrument, find_instrument

LONG_INIT, LONG_MAINT = 0.50, 0.25
SHORT_INIT, SHORT_MAINT = 0.50, 0.30
FX_INIT, FX_MAINT = 0.03, 0.025
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
    "Leverage",
)
_NO_CURRENCY_TAGS = {
    "AccountType",
    "Cushion",
    "DayTradesRemaining",
    "Leverage",
    "LookAheadNextChange",
    "HighestSeverity",
}
LEDGER_TAGS = (
    "CashBalance",
    "TotalCashBalance",
    "NetLiquidationByCurrency",
    "StockMarketValue",
    "UnrealizedPnL",
    "RealizedPnL",
    "ExchangeRate",
)


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
    avg_cost: float = 0.0  # per share (per unit for FX), commissions included
    realized_pnl: float = 0.0  # realized today
    start_qty: float = 0.0  # quantity held at the previous close
    cash_flow: float = 0.0  # today's cash from trades in this instrument (+ sells, - buys)


@dataclass
class MarginSnapshot:
    init: float
    maint: float
    equity_with_loan: float


def mark_price(market: Market, instrument: Instrument) -> float:
    """The price positions are valued at: last for stocks, the midpoint for FX."""
    q = market.quote(instrument.key)
    return q.mid if instrument.is_fx else q.last


def margin_rates(instrument: Instrument, qty: float) -> tuple[float, float]:
    if instrument.is_fx:
        return FX_INIT, FX_MAINT
    return (LONG_INIT, LONG_MAINT) if qty >= 0 else (SHORT_INIT, SHORT_MAINT)


def _money(value: float) -> str:
    return f"{value:.2f}"


class Account:
    """One paper account. `positions` seeds {symbol: (qty, avg_cost)} held since yesterday."""

    def __init__(
        self,
        account_id: str = "DU1234567",
        base_currency: str = "USD",
        cash: float = 250_000.0,
        positions: dict[str, tuple[float, float]] | None = None,
        account_type: str = "INDIVIDUAL",
    ) -> None:
        self.account_id = account_id
        self.base_currency = base_currency
        self.cash = float(cash)
        self.account_type = account_type
        self.start_cash = self.cash
        self.realized_pnl = 0.0
        self._positions: dict[int, Position] = {}
        seed = DEFAULT_POSITIONS if positions is None else positions
        for symbol, (qty, avg) in seed.items():
            inst = find_instrument(symbol) or find_instrument(local_symbol=symbol)
            if inst is None:
                raise ValueError(f"unknown instrument {symbol!r}")
            self._positions[inst.con_id] = Position(inst, float(qty), float(avg), 0.0, float(qty))

    # --- trading ------------------------------------------------------------------------

    def apply_fill(
        self, instrument: Instrument, side: str, qty: float, price: float, commission: float
    ) -> float:
        """Book a fill; returns the realized P&L of this fill (0.0 when it only opens)."""
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
        value = qty * price
        flow = -value - commission if signed > 0 else value - commission
        self.cash += flow
        pos.cash_flow += flow

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
            closing = min(abs(signed), abs(old))
            opening = abs(signed) - closing
            close_comm = commission * closing / qty
            open_comm = commission - close_comm
            direction = 1.0 if old > 0 else -1.0  # closing a long sells, a short buys
            realized = direction * (price - pos.avg_cost) * closing - close_comm
            pos.qty = old + (closing if signed > 0 else -closing)
            if opening > 0:  # flipped through zero: the rest opens at this price
                pos.qty = opening if signed > 0 else -opening
                if signed > 0:
                    pos.avg_cost = (opening * price + open_comm) / opening
                else:
                    pos.avg_cost = (opening * price - open_comm) / opening
            elif pos.qty == 0:
                pos.avg_cost = 0.0
        pos.realized_pnl += realized
        self.realized_pnl += realized
        return realized

    # --- views --------------------------------------------------------------------------

    def position(self, con_id: int) -> Position | None:
        return self._positions.get(con_id)

    def positions(self) -> list[tuple[Instrument, float, float]]:
        """(instrument, qty, avg_cost) for every position touched today (closed ones at 0)."""
        return [(p.instrument, p.qty, p.avg_cost) for p in self._positions.values()]

    def portfolio(self, market: Market) -> list[PortfolioItem]:
        items = []
        for p in self._positions.values():
            px = mark_price(market, p.instrument)
            mv = p.qty * px
            items.append(
                PortfolioItem(
                    instrument=p.instrument,
                    position=p.qty,
                    market_price=px,
                    market_value=mv,
                    average_cost=p.avg_cost,
                    unrealized_pnl=mv - p.qty * p.avg_cost,
                    realized_pnl=p.realized_pnl,
                )
            )
        return items

    def margin(
        self,
        market: Market,
        extra: dict[int, tuple[Instrument, float]] | None = None,
        cash_delta: float = 0.0,
    ) -> MarginSnapshot:
        """Initial/maintenance margin and equity with loan, optionally with hypothetical
        extra quantities ({con_id: (instrument, signed qty)}) and a cash change."""
        qtys: dict[int, tuple[Instrument, float]] = {
            cid: (p.instrument, p.qty) for cid, p in self._positions.items()
        }
        for cid, (inst, dq) in (extra or {}).items():
            q0 = qtys.get(cid, (inst, 0.0))[1]
            qtys[cid] = (inst, q0 + dq)
        init = maint = value = 0.0
        for inst, q in qtys.values():
            if q == 0:
                continue
            px = mark_price(market, inst)
            mv = q * px
            value += mv
            i_rate, m_rate = margin_rates(inst, q)
            init += abs(mv) * i_rate
            maint += abs(mv) * m_rate
        return MarginSnapshot(init, maint, self.cash + cash_delta + value)

    def _totals(self, market: Market) -> dict[str, float]:
        long_value = short_value = unrealized = 0.0
        for item in self.portfolio(market):
            if item.market_value >= 0:
                long_value += item.market_value
            else:
                short_value += item.market_value
            unrealized += item.unrealized_pnl
        stock_value = long_value + short_value
        m = self.margin(market)
        net_liq = self.cash + stock_value
        ewl = net_liq
        reg_t_margin = long_value * LONG_INIT + abs(short_value) * SHORT_INIT
        available = ewl - m.init
        excess = ewl - m.maint
        prev_ewl = self.start_cash + sum(
            p.start_qty * market.quote(p.instrument.key).close for p in self._positions.values()
        )
        return {
            "NetLiquidation": net_liq,
            "TotalCashValue": self.cash,
            "SettledCash": self.cash,
            "AccruedCash": 0.0,
            "BuyingPower": max(0.0, available) * BUYING_POWER_MULTIPLIER,
            "EquityWithLoanValue": ewl,
            "PreviousDayEquityWithLoanValue": prev_ewl,
            "GrossPositionValue": long_value + abs(short_value),
            "StockMarketValue": stock_value,
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
            "Leverage": (long_value + abs(short_value)) / net_liq if net_liq else 0.0,
            "UnrealizedPnL": unrealized,
            "RealizedPnL": self.realized_pnl,
        }

    def _summary_value(self, tag: str, t: dict[str, float]) -> AccountValue | None:
        cur = "" if tag in _NO_CURRENCY_TAGS else self.base_currency
        if tag == "AccountType":
            return AccountValue(tag, self.account_type, "", self.account_id)
        if tag == "DayTradesRemaining":
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

    def account_values(self, market: Market) -> list[AccountValue]:
        """The key/value stream TWS sends for reqAccountUpdates (updateAccountValue)."""
        t = self._totals(market)
        a = self.account_id
        out = [
            AccountValue("AccountCode", a, "", a),
            AccountValue("AccountOrGroup", a, self.base_currency, a),
            AccountValue("AccountOrGroup", a, "BASE", a),
            AccountValue("AccountReady", "true", "", a),
            AccountValue("AccountType", self.account_type, "", a),
            AccountValue("Currency", self.base_currency, self.base_currency, a),
            AccountValue("Currency", "BASE", "BASE", a),
            AccountValue("ExchangeRate", "1.00", self.base_currency, a),
            AccountValue("ExchangeRate", "1.00", "BASE", a),
        ]
        for tag in SUMMARY_TAGS:
            if tag in ("AccountType", "PreviousDayEquityWithLoanValue"):
                continue
            v = self._summary_value(tag, t)
            if v is not None:
                out.append(v)
        out.append(
            AccountValue(
                "PreviousDayEquityWithLoanValue",
                _money(t["PreviousDayEquityWithLoanValue"]),
                self.base_currency,
                a,
            )
        )
        for cur in (self.base_currency, "BASE"):
            out += [
                AccountValue("CashBalance", _money(self.cash), cur, a),
                AccountValue("TotalCashBalance", _money(self.cash), cur, a),
                AccountValue("NetLiquidationByCurrency", _money(t["NetLiquidation"]), cur, a),
                AccountValue("StockMarketValue", _money(t["StockMarketValue"]), cur, a),
                AccountValue("UnrealizedPnL", _money(t["UnrealizedPnL"]), cur, a),
                AccountValue("RealizedPnL", _money(t["RealizedPnL"]), cur, a),
            ]
        return out

    def summary(self, market: Market, tags: str = "All") -> list[AccountValue]:
        """reqAccountSummary: "All" or a comma list of tags; "$LEDGER" / "$LEDGER:ALL" /
        "$LEDGER:USD" add the per-currency ledger values."""
        t = self._totals(market)
        wanted = [s.strip() for s in (tags or "").split(",") if s.strip()]
        if not wanted or wanted == ["All"]:
            wanted = list(SUMMARY_TAGS)
        out: list[AccountValue] = []
        for tag in wanted:
            if tag.startswith("$LEDGER"):
                _, _, which = tag.partition(":")
                currencies = [self.base_currency]
                if which.upper() == "ALL":
                    currencies = ["BASE", self.base_currency]
                for cur in currencies:
                    values = {
                        "CashBalance": self.cash,
                        "TotalCashBalance": self.cash,
                        "NetLiquidationByCurrency": t["NetLiquidation"],
                        "StockMarketValue": t["StockMarketValue"],
                        "UnrealizedPnL": t["UnrealizedPnL"],
                        "RealizedPnL": t["RealizedPnL"],
                        "ExchangeRate": 1.0,
                    }
                    out += [
                        AccountValue(k, _money(v), cur, self.account_id) for k, v in values.items()
                    ]
                continue
            v = self._summary_value(tag, t)
            if v is not None:
                out.append(v)
        return out

    def value(self, market: Market, tag: str) -> float:
        """A numeric account value by tag (e.g. "NetLiquidation"), for tests and the UI."""
        return self._totals(market)[tag]

    # --- P&L (reqPnL / reqPnLSingle) -----------------------------------------------------

    def _daily_single(self, p: Position, market: Market) -> float:
        q = market.quote(p.instrument.key)
        px = mark_price(market, p.instrument)
        return p.qty * px + p.cash_flow - p.start_qty * q.close

    def daily_pnl(self, market: Market) -> tuple[float, float, float]:
        """(daily, unrealized, realized): daily is the change since the previous close,
        trades and commissions included (equals NetLiquidation minus its value at the
        previous close)."""
        daily = sum(self._daily_single(p, market) for p in self._positions.values())
        unrealized = sum(i.unrealized_pnl for i in self.portfolio(market))
        return daily, unrealized, self.realized_pnl

    def pnl_single(
        self, con_id: int, market: Market
    ) -> tuple[float, float, float, float, float] | None:
        """(pos, daily, unrealized, realized, value) for one position, None if never held."""
        p = self._positions.get(con_id)
        if p is None:
            return None
        px = mark_price(market, p.instrument)
        value = p.qty * px
        return (
            p.qty,
            self._daily_single(p, market),
            value - p.qty * p.avg_cost,
            p.realized_pnl,
            value,
        )
