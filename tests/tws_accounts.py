"""Accounts as TWS sends them, built from ib_async's own objects (no simulator).

Shapes follow IBKR's API documentation of ``updateAccountValue`` / ``updatePortfolio`` /
``position`` / ``pnlSingle`` (and ib_async's decoder, which fills these objects):

- account values come one row per tag and currency, plus a ``BASE`` row for sums;
  ``ExchangeRate`` per currency is units of base per unit; NetLiquidation and
  TotalCashValue are tagged with the base currency's code;
- a portfolio item's marketPrice / marketValue / P&L are in the contract's currency;
  averageCost is per contract, multiplier included (an option bought at 5.205 shows
  520.5); a future's marketValue is its notional; a bond's price is in % of par and its
  marketValue is IBKR's (10 bonds of 1,000 face at 98.50 = 9,850);
- the position message's contract has ``exchange`` (often empty for positions), the
  portfolio update's has ``primaryExchange``.
"""

from __future__ import annotations

from ib_async import AccountValue, Contract, PnL, PnLSingle, PortfolioItem, Position

USD_ACCOUNT = "DU111111"
EUR_ACCOUNT = "DU222222"


def contract(**fields) -> Contract:
    return Contract(**fields)


AAPL = contract(
    conId=265598, symbol="AAPL", secType="STK", currency="USD", localSymbol="AAPL",
    primaryExchange="NASDAQ", tradingClass="NMS",
)  # fmt: skip
AAPL_CALL = contract(
    conId=731233401, symbol="AAPL", secType="OPT", lastTradeDateOrContractMonth="20250117",
    strike=200.0, right="C", multiplier="100", currency="USD",
    localSymbol="AAPL  250117C00200000", tradingClass="AAPL",
)  # fmt: skip
ES = contract(
    conId=495512563, symbol="ES", secType="FUT", lastTradeDateOrContractMonth="20251219",
    multiplier="50", currency="USD", localSymbol="ESZ5", tradingClass="ES",
)  # fmt: skip
SAP = contract(
    conId=14204, symbol="SAP", secType="STK", currency="EUR", localSymbol="SAP",
    primaryExchange="IBIS", tradingClass="XETRA",
)  # fmt: skip
TENCENT = contract(
    conId=37180244, symbol="700", secType="STK", currency="HKD", localSymbol="700",
    primaryExchange="SEHK", tradingClass="700",
)  # fmt: skip
UST = contract(
    conId=713282394, symbol="912810UC0", secType="BOND", lastTradeDateOrContractMonth="20341115",
    currency="USD", localSymbol="T 4 1/4 11/15/34",
)  # fmt: skip
EURUSD = contract(
    conId=12087792, symbol="EUR", secType="CASH", currency="USD", localSymbol="EUR.USD",
    tradingClass="EUR.USD",
)  # fmt: skip
BTC = contract(
    conId=479624278, symbol="BTC", secType="CRYPTO", currency="USD", localSymbol="BTC.USD",
    primaryExchange="PAXOS",
)  # fmt: skip

# (contract, position, marketPrice, marketValue, averageCost, unrealizedPNL)
USD_HOLDINGS = [
    (AAPL, 100.0, 228.50, 22850.0, 150.25, 7825.0),
    (AAPL_CALL, 2.0, 6.10, 1220.0, 520.50, 179.0),
    (ES, 1.0, 5050.0, 252500.0, 250000.0, 2500.0),
    (SAP, 50.0, 200.0, 10000.0, 180.0, 1000.0),
    (TENCENT, 1000.0, 400.0, 400000.0, 350.0, 50000.0),
    (UST, 10.0, 98.50, 9850.0, 986.5, -15.0),
    (EURUSD, 20000.0, 1.0850, 21700.0, 1.08, 100.0),
    (BTC, 0.5, 60000.0, 30000.0, 50000.0, 5000.0),
]
USD_RATES = {"USD": "1.00", "EUR": "1.0850", "HKD": "0.1285", "JPY": "0.0067"}
USD_CASH = {"USD": 100000.0, "EUR": 20000.0, "JPY": -1500000.0}
# base: 100,000 + 20,000 x 1.085 - 1,500,000 x 0.0067
USD_CASH_BASE = 100000.0 + 21700.0 - 10050.0
# stocks, option, bond and crypto in base (HKD 400,000 x 0.1285, EUR 10,000 x 1.085);
# the future's 252,500 notional is not value, and EUR.USD is the EUR cash above.
USD_SECURITIES_BASE = 22850.0 + 1220.0 + 10850.0 + 51400.0 + 9850.0 + 30000.0
USD_FUTURES_PNL = 2500.0
USD_NLV = USD_CASH_BASE + USD_SECURITIES_BASE + USD_FUTURES_PNL


def account_values(
    account: str,
    base: str,
    rates: dict[str, str],
    cash: dict[str, float],
    nlv: float,
    cash_base: float,
    extra: dict[tuple[str, str], str] | None = None,
) -> list[AccountValue]:
    rows = [
        AccountValue(account, "AccountCode", account, "", ""),
        AccountValue(account, "Currency", "BASE", "BASE", ""),
        AccountValue(account, "ExchangeRate", "1.00", "BASE", ""),
        AccountValue(account, "NetLiquidation", f"{nlv:.2f}", base, ""),
        AccountValue(account, "TotalCashValue", f"{cash_base:.2f}", base, ""),
        AccountValue(account, "CashBalance", f"{cash_base:.2f}", "BASE", ""),
        AccountValue(account, "TotalCashBalance", f"{cash_base:.2f}", "BASE", ""),
        AccountValue(account, "NetLiquidationByCurrency", f"{nlv:.2f}", "BASE", ""),
    ]
    for cur, rate in rates.items():
        rows.append(AccountValue(account, "Currency", cur, cur, ""))
        rows.append(AccountValue(account, "ExchangeRate", rate, cur, ""))
    for cur, amount in cash.items():
        rows.append(AccountValue(account, "CashBalance", f"{amount:.2f}", cur, ""))
        rows.append(AccountValue(account, "TotalCashBalance", f"{amount:.2f}", cur, ""))
    for (tag, cur), value in (extra or {}).items():
        rows.append(AccountValue(account, tag, value, cur, ""))
    return rows


def usd_account_values(rates: dict[str, str] | None = None) -> list[AccountValue]:
    return account_values(
        USD_ACCOUNT,
        "USD",
        USD_RATES if rates is None else rates,
        USD_CASH,
        USD_NLV,
        USD_CASH_BASE,
        {
            ("StockMarketValue", "BASE"): f"{22850.0 + 10850.0 + 51400.0:.2f}",
            ("OptionMarketValue", "BASE"): "1220.00",
            ("FuturesPNL", "BASE"): f"{USD_FUTURES_PNL:.2f}",
            ("FuturesPNL", "USD"): f"{USD_FUTURES_PNL:.2f}",
            ("RealizedPnL", "BASE"): "0.00",
        },
    )


def holdings(
    account: str, rows: list[tuple]
) -> tuple[list[Position], dict[tuple[str, int], PortfolioItem]]:
    positions, items = [], {}
    for c, qty, price, value, avg, unrealized in rows:
        # the position message: exchange as TWS sends it for positions (empty), no
        # primaryExchange; the portfolio update: primaryExchange.
        pos_contract = Contract(**{**c.dict(), "primaryExchange": "", "exchange": ""})
        positions.append(Position(account, pos_contract, qty, avg))
        items[(account, c.conId)] = PortfolioItem(
            c, qty, price, value, avg, unrealized, 0.0, account
        )
    return positions, items


def single(account: str, con_id: int, qty: float, value: float, unrealized: float, daily=0.0):
    # ib_async decodes the position as a float (decoder: pnlSingle [int, float, ...])
    return PnLSingle(account, "", con_id, daily, unrealized, 0.0, qty, value)


def account_pnl(account: str, daily: float, unrealized: float, realized: float = 0.0) -> PnL:
    return PnL(account, "", daily, unrealized, realized)


def advisor_state():
    """Two accounts of one login, as TWS sends them: the USD account above (all asset
    types) and an EUR-base account holding SAP and USD cash."""
    usd_pos, usd_items = holdings(USD_ACCOUNT, USD_HOLDINGS)
    eur_pos, eur_items = holdings(EUR_ACCOUNT, [(SAP, 100.0, 200.0, 20000.0, 190.0, 1000.0)])
    eur_values = account_values(
        EUR_ACCOUNT, "EUR", {"EUR": "1.00", "USD": "0.9217"}, {"EUR": 30000.0, "USD": 5000.0},
        nlv=50000.0 + 4608.5, cash_base=30000.0 + 4608.5,
    )  # fmt: skip
    return (usd_pos + eur_pos, {**usd_items, **eur_items}, usd_account_values() + eur_values)


class FixturePortfolio:
    """Stands in for PortfolioService with the state above (the page's only contract
    with it: ``accounts()`` and ``view(account)``), through the real arithmetic."""

    def __init__(self, accounts: tuple[str, ...] = (USD_ACCOUNT, EUR_ACCOUNT)) -> None:
        self._accounts = accounts

    def accounts(self) -> tuple[str, ...]:
        return self._accounts

    def view(self, account=None):
        from datetime import UTC, datetime

        from ibkr_core.money import account_books
        from ibkr_core.portfolio import portfolio_view

        positions, items, values = advisor_state()
        positions = [p for p in positions if p.account in self._accounts]
        books = account_books([v for v in values if v.account in self._accounts])
        return portfolio_view(
            account, self._accounts, books, positions, items, {}, {}, datetime.now(UTC)
        )
