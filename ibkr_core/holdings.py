"""The portfolio arithmetic, on ib_async's objects as TWS fills them (no I/O).

Pages and the HTTP API both read these results, so a figure is computed once:

- a row's money (price, value, P&L) is in the instrument's currency, as IBKR sends it:
  ``reqPnLSingle``'s value and P&L when they match the held quantity (live, about once
  a second; in the account's base currency like ``reqPnL`` on the simulator, told apart
  from the contract's currency by the account's own figures: ``pnl_single_in_base``),
  else the account window's ``marketValue`` / ``unrealizedPNL`` (in the contract's
  currency, refreshed by TWS every ~3 minutes and after fills). Never qty x price x
  multiplier: a bond's price is in % of par, and IBKR knows its own value;
- its base-currency figures and weight use the account's own ``ExchangeRate`` values
  (``ibkr_core.money``); no rate means unknown;
- a future's value is not part of the account's value (only its P&L is): it is shown as
  ``notional`` exposure and left out of positions value, weights and allocation;
- FX positions (``CASH``, e.g. EUR.USD) are the account's foreign cash seen as a
  position: they are shown, but counted once, as cash;
- "Avg price" is TWS's: ``averageCost`` (per contract, multiplier included) divided by
  the contract's price factor, next to the price per unit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from ibkr_core.instruments import instrument
from ibkr_core.money import AccountBook, CashLine, combine_rates
from ibkr_core.quote import num

__all__ = [
    "ALL_ACCOUNTS",
    "ClassTotal",
    "PortfolioSummary",
    "PositionRow",
    "build_rows",
    "build_summary",
    "by_asset_class",
    "combine",
]

ALL_ACCOUNTS = "All"
SOURCE_IBKR = "ibkr"
SOURCE_NOT_CONNECTED = "not connected"
NOT_IN_VALUE = ("FUT",)  # only their P&L counts in the account's value
CASH_LIKE = ("CASH",)  # already in the cash balances


def _sum(values: Iterable[float | None]) -> float | None:
    """Sum, or None if any part is unknown (a partial sum would be silently wrong)."""
    values = list(values)
    if any(v is None for v in values):
        return None
    return float(sum(v for v in values if v is not None))


@dataclass(frozen=True)
class PositionRow:
    """One held contract in one account. Money fields without ``_base`` are in
    ``currency`` (the instrument's); ``_base`` ones in ``base_currency`` (the account's)."""

    account: str
    symbol: str
    sec_type: str
    con_id: int
    quantity: float
    avg_cost: float | None  # IBKR's averageCost: per contract, multiplier included
    market_price: float | None  # per unit (per share, % of par for bonds)
    market_value: float | None  # None for futures: see notional
    unrealized_pnl: float | None
    unrealized_pnl_pct: float | None  # of the cost basis (|quantity| x avg cost)
    realized_pnl: float | None  # today
    weight_pct: float | None  # market_value_base / the account's net liquidation
    currency: str
    daily_pnl: float | None = None  # today's P&L of the position (reqPnLSingle)
    description: str = ""
    asset_class: str = ""
    exchange: str = ""
    local_symbol: str = ""
    multiplier: float | None = None
    avg_price: float | None = None  # per unit, like market_price (TWS's "Avg price")
    notional: float | None = None  # futures: IBKR's marketValue (exposure)
    base_currency: str | None = None
    fx_rate: float | None = None  # base per unit of currency (IBKR's ExchangeRate)
    market_value_base: float | None = None
    unrealized_pnl_base: float | None = None
    daily_pnl_base: float | None = None
    notional_base: float | None = None
    in_cash: bool = False  # an FX position: its money is counted in the cash balances


@dataclass(frozen=True)
class PortfolioSummary:
    """An account's (or all accounts') totals in ``currency``, its base currency."""

    net_liquidation: float | None
    total_cash: float | None
    positions_count: int
    positions_value: float | None  # base; futures and FX cash left out
    daily_pnl: float | None
    unrealized_pnl: float | None
    realized_pnl: float | None
    currency: str  # the base currency; "MIXED" when accounts' bases do not convert
    source: str  # "ibkr" | "not connected"
    connected: bool
    accounts: tuple[str, ...]
    as_of: datetime
    per_account: dict[str, PortfolioSummary] = field(default_factory=dict)
    futures_exposure: float | None = None  # base, notional of futures (None: none held)
    cash: tuple[CashLine, ...] = ()
    unconverted: tuple[str, ...] = ()  # currencies held without an IBKR rate to base
    account: str = ""  # the account, or ALL_ACCOUNTS
    daily_pnl_pct: float | None = None  # of yesterday's net liquidation (nlv - daily)
    securities_pnl_pct: float | None = None  # securities' unrealized P&L / their cost, base

    @property
    def convertible(self) -> bool:
        """True when every figure could be put in one currency."""
        return self.currency != "MIXED" and not self.unconverted

    @classmethod
    def not_connected(cls) -> PortfolioSummary:
        return cls(
            net_liquidation=0.0,
            total_cash=0.0,
            positions_count=0,
            positions_value=0.0,
            daily_pnl=0.0,
            unrealized_pnl=0.0,
            realized_pnl=0.0,
            currency="USD",
            source=SOURCE_NOT_CONNECTED,
            connected=False,
            accounts=(),
            as_of=datetime.now(UTC),
        )


def value_factor(contract: Any, item: Any | None) -> float | None:
    """Money per contract for one unit of price: the multiplier where IBKR sets one,
    else what IBKR's own portfolio update implies (marketValue / position / marketPrice:
    10 for a bond of 1,000 face priced in % of par), else 1 for plain stocks / FX."""
    mult = num(contract.multiplier)
    if mult:
        return mult
    if item is not None:
        value, price, qty = num(item.marketValue), num(item.marketPrice), num(item.position)
        if value and price and qty:
            return round(value / (qty * price), 6)
    if contract.secType in ("STK", "CASH", "CRYPTO", "FUND", "CFD", "CMDTY", ""):
        return 1.0
    return None


_ORDER = ("STK", "OPT", "WAR", "FUT", "FOP", "BOND", "BILL", "FUND", "CRYPTO", "CASH")


def _class_order(sec_type: str) -> int:
    """Rows as TWS groups them: stocks, then derivatives, bonds, funds, crypto, FX."""
    return _ORDER.index(sec_type) if sec_type in _ORDER else len(_ORDER)


def _fresh(holder: Any | None, qty: float, attr: str = "position") -> bool:
    return holder is not None and num(getattr(holder, attr)) == qty


def _figures(
    item: Any | None, single: Any | None, qty: float, rate: float | None, in_base: bool
) -> tuple[tuple[float | None, ...], tuple[float | None, ...]]:
    """(value, unrealized, realized, daily) in the instrument's currency and
    (value, unrealized, daily) in base.

    ``single`` is in the account's base currency (see ``pnl_single_in_base``); the
    account window's portfolio update is in the contract's currency. Live figures come from
    reqPnLSingle when it is for the held quantity; each side is the other converted
    with the account's own ExchangeRate, and stays unknown without one."""

    def to_base(x: float | None) -> float | None:
        return None if x is None or rate is None else x * rate

    def to_local(x: float | None) -> float | None:
        return None if x is None or not rate else x / rate

    daily_b = num(single.dailyPnL) if _fresh(single, qty) else None
    window = None
    if _fresh(item, qty):
        window = (num(item.marketValue), num(item.unrealizedPNL), num(item.realizedPNL))
    if _fresh(single, qty) and num(single.value) is not None:
        value_b, unrealized_b = num(single.value), num(single.unrealizedPnL)
        live = (to_local(value_b), to_local(unrealized_b), to_local(num(single.realizedPnL)))
        # In the base currency the live figures are the local ones. In another currency
        # the window's own figures win: converting back with the window's rate (up to
        # 3 minutes old) would show prices IBKR never quoted (HK$500.3922).
        local = live if in_base or window is None else window
        return (*local, to_local(daily_b)), (value_b, unrealized_b, daily_b)
    if window is not None:
        value, unrealized, _realized = window
        return (*window, to_local(daily_b)), (to_base(value), to_base(unrealized), daily_b)
    return (None, None, None, to_local(daily_b)), (None, None, daily_b)


def pnl_single_in_base(
    account: str,
    items: Mapping[tuple[str, int], Any],
    singles: Mapping[tuple[str, int], Any],
    book: AccountBook | None,
) -> bool:
    """Whether this TWS reports reqPnLSingle in the account's base currency (as reqPnL
    is) or in the contract's. IBKR's docs do not say; the account's own figures do: a
    foreign holding's reqPnLSingle value against its portfolio update's marketValue for
    the same quantity is either its exchange rate (base) or 1 (local). Base when there is
    no such holding to tell (then both conventions give the same numbers)."""
    if book is None:
        return True
    for (acct, con_id), item in items.items():
        single = singles.get((acct, con_id))
        rate = book.rate(item.contract.currency)
        qty = num(item.position)
        if acct != account or not qty or not rate or abs(rate - 1.0) < 0.05:
            continue
        value, local = num(single.value) if _fresh(single, qty) else None, num(item.marketValue)
        if value and local:
            ratio = value / local
            return abs(ratio - rate) <= abs(ratio - 1.0)
    return True


def _as_base(single: Any, rate: float | None) -> Any:
    """A reqPnLSingle reported in the contract's currency, expressed in base."""

    def conv(x: Any) -> float:
        v = num(x)
        return float("nan") if v is None or rate is None else v * rate

    return replace(
        single,
        value=conv(single.value),
        unrealizedPnL=conv(single.unrealizedPnL),
        realizedPnL=conv(single.realizedPnL),
        dailyPnL=conv(single.dailyPnL),
    )


def build_rows(
    positions: Iterable[Any],
    items: Mapping[tuple[str, int], Any],
    singles: Mapping[tuple[str, int], Any],
    books: Mapping[str, AccountBook],
    details: Mapping[int, Any] | None = None,
) -> list[PositionRow]:
    """Rows from ``Position`` objects (reqPositions), the account window's
    ``PortfolioItem`` and ``PnLSingle`` (both keyed ``(account, conId)``) and each
    account's book. Weights are left empty (see ``build_summary``)."""
    details = details or {}
    positions = list(positions)
    in_base_convention = {
        a: pnl_single_in_base(a, items, singles, books.get(a))
        for a in {p.account for p in positions}
    }
    rows: list[PositionRow] = []
    for pos in positions:
        qty = num(pos.position)
        if not qty:
            continue
        c = pos.contract
        key = (pos.account, c.conId)
        item, single = items.get(key), singles.get(key)
        # the portfolio update's contract carries primaryExchange; positions' may not
        inst = instrument(item.contract if item is not None else c, details.get(c.conId))
        factor = value_factor(c, item)
        avg = num(pos.avgCost)
        book = books.get(pos.account)
        base = book.base_currency if book else None
        rate = book.rate(c.currency) if book else None
        same = base is not None and c.currency == base
        if single is not None and not in_base_convention[pos.account]:
            single = _as_base(single, rate)
        local, in_base = _figures(item, single, qty, rate, same)
        value, unrealized, realized, daily = local
        value_b, unrealized_b, daily_b = in_base
        price = None
        if same and value is not None and factor and _fresh(single, qty):
            price = round(value / (qty * factor), 8)  # live, from reqPnLSingle's value
        elif item is not None:
            price = num(item.marketPrice)
        elif value is not None and factor:  # no window for this account: via its rate
            price = round(value / (qty * factor), 8)
        basis = abs(qty) * avg if avg else None
        is_future = c.secType in NOT_IN_VALUE
        notional, notional_b = (value, value_b) if is_future else (None, None)
        held, held_b = (None, None) if is_future else (value, value_b)
        rows.append(
            PositionRow(
                account=pos.account,
                symbol=inst.symbol,
                sec_type=inst.sec_type,
                con_id=inst.con_id,
                quantity=qty,
                avg_cost=avg,
                market_price=price,
                market_value=held,
                unrealized_pnl=unrealized,
                unrealized_pnl_pct=(
                    unrealized / basis * 100.0 if basis and unrealized is not None else None
                ),
                realized_pnl=realized,
                weight_pct=None,
                currency=inst.currency,
                daily_pnl=daily,
                description=inst.description,
                asset_class=inst.asset_class,
                exchange=inst.exchange,
                local_symbol=inst.local_symbol,
                multiplier=inst.multiplier,
                avg_price=avg / factor if avg is not None and factor else None,
                notional=notional,
                base_currency=base,
                fx_rate=rate,
                market_value_base=held_b,
                unrealized_pnl_base=unrealized_b,
                daily_pnl_base=daily_b,
                notional_base=notional_b,
                in_cash=c.secType in CASH_LIKE,
            )
        )
    rows.sort(key=lambda r: (r.account, _class_order(r.sec_type), r.description))
    return rows


def live_drift(
    account: str,
    book: AccountBook,
    items: Mapping[tuple[str, int], Any],
    singles: Mapping[tuple[str, int], Any],
) -> float:
    """How far live values moved since the account window computed NetLiquidation:
    per position, reqPnLSingle's value (base) minus the window's marketValue for the
    same quantity (converted), in base. Futures included (their move is P&L); FX cash
    left out (the window's rates are what TWS used). A move that cannot be converted is
    left out: the window's own figure stands for it."""
    drift = 0.0
    in_base = pnl_single_in_base(account, items, singles, book)
    for (acct, con_id), item in items.items():
        if acct != account or item.contract.secType in CASH_LIKE:
            continue
        single = singles.get((acct, con_id))
        qty = num(item.position)
        if not qty or not _fresh(single, qty):
            continue
        currency = item.contract.currency
        live = num(single.value) if in_base else book.convert(num(single.value), currency)
        old = book.convert(num(item.marketValue), currency)
        if live is not None and old is not None:
            drift += live - old
    return drift


def _daily_pct(daily: float | None, nlv: float | None) -> float | None:
    if daily is None or nlv is None or not (nlv - daily):
        return None
    return daily / (nlv - daily) * 100.0


def _securities_pct(held: list[PositionRow]) -> float | None:
    """Unrealized P&L of the securities over their cost, both in base (futures have no
    cost to speak of; FX positions are cash)."""
    pnl = _sum(r.unrealized_pnl_base for r in held)
    cost = _sum(
        None
        if r.avg_cost is None or r.fx_rate is None
        else abs(r.quantity) * r.avg_cost * r.fx_rate
        for r in held
    )
    if not held or pnl is None or not cost:
        return None
    return pnl / cost * 100.0


def build_summary(
    book: AccountBook,
    rows: list[PositionRow],
    items: Mapping[tuple[str, int], Any],
    singles: Mapping[tuple[str, int], Any],
    pnl: Any | None,
    now: datetime,
) -> tuple[PortfolioSummary, list[PositionRow]]:
    """The account's summary and its rows with weights (of the live net liquidation)."""
    mine = [r for r in rows if r.account == book.account]
    nlv = book.total("NetLiquidation")
    if nlv is not None:
        nlv += live_drift(book.account, book, items, singles)
    weighted = [
        replace(
            r,
            weight_pct=(
                r.market_value_base / nlv * 100.0
                if nlv and r.market_value_base is not None and not r.in_cash
                else None
            ),
        )
        for r in mine
    ]
    held = [r for r in weighted if r.sec_type not in NOT_IN_VALUE and not r.in_cash]
    futures = [r for r in weighted if r.sec_type in NOT_IN_VALUE]
    daily = num(pnl.dailyPnL) if pnl is not None else None
    unrealized = num(pnl.unrealizedPnL) if pnl is not None else None
    realized = num(pnl.realizedPnL) if pnl is not None else None
    if unrealized is None and mine:  # reqPnL not in yet: the positions' own numbers
        unrealized = _sum(r.unrealized_pnl_base for r in mine)
    if realized is None:
        realized = book.total("RealizedPnL")
    cash = tuple(book.cash())
    unconverted = sorted(
        {r.currency for r in mine if r.fx_rate is None}
        | {line.currency for line in cash if line.rate is None}
    )
    summary = PortfolioSummary(
        net_liquidation=nlv,
        total_cash=book.total_cash(),
        positions_count=len(mine),
        positions_value=_sum(r.market_value_base for r in held),
        daily_pnl=daily,
        unrealized_pnl=unrealized,
        realized_pnl=realized,
        currency=book.base_currency or "?",
        source=SOURCE_IBKR,
        connected=True,
        accounts=(book.account,),
        as_of=now,
        futures_exposure=_sum(r.notional_base for r in futures) if futures else None,
        cash=cash,
        unconverted=tuple(unconverted),
        account=book.account,
        daily_pnl_pct=_daily_pct(daily, nlv),
        securities_pnl_pct=_securities_pct(held),
    )
    return summary, weighted


def combine(
    per: Mapping[str, PortfolioSummary],
    books: Mapping[str, AccountBook],
    rows: list[PositionRow],
    now: datetime,
) -> tuple[PortfolioSummary, list[PositionRow]]:
    """All accounts in one currency: the base most accounts share, converted with the
    rates of the accounts in that base (the same login's IBKR rates). When an account's
    base has no such rate, the totals are unknown and ``currency`` is "MIXED"."""
    accounts = tuple(per)
    bases = [p.currency for p in per.values()]
    target = max(bases, key=bases.count) if bases else "USD"  # tie: the first account's
    rates = combine_rates(books.values(), target)
    book = AccountBook(ALL_ACCOUNTS, target, rates, {})
    factors = {a: rates.get(p.currency) for a, p in per.items()}
    mixed = any(f is None for f in factors.values())

    def total(attr: str) -> float | None:
        if mixed:
            return None
        parts = [getattr(p, attr) for p in per.values()]
        return _sum(
            None if v is None else v * (factors[a] or 0.0) for a, v in zip(per, parts, strict=True)
        )

    nlv = total("net_liquidation")
    combined_rows = []
    for r in rows:
        rate = book.rate(r.currency)

        def to_base(amount: float | None, _rate: float | None = rate) -> float | None:
            return None if amount is None or _rate is None else amount * _rate

        value_base = to_base(r.market_value)
        combined_rows.append(
            replace(
                r,
                base_currency=target,
                fx_rate=rate,
                market_value_base=value_base,
                unrealized_pnl_base=to_base(r.unrealized_pnl),
                daily_pnl_base=to_base(r.daily_pnl),
                notional_base=to_base(r.notional),
                weight_pct=(
                    value_base / nlv * 100.0
                    if nlv and value_base is not None and not r.in_cash
                    else None
                ),
            )
        )
    futures = [r for r in combined_rows if r.sec_type in NOT_IN_VALUE]
    cash = _combined_cash([p.cash for p in per.values()], book)
    unconverted = sorted({c for p in per.values() for c in p.unconverted})
    summary = PortfolioSummary(
        net_liquidation=nlv,
        total_cash=total("total_cash"),
        positions_count=sum(p.positions_count for p in per.values()),
        positions_value=total("positions_value"),
        daily_pnl=total("daily_pnl"),
        unrealized_pnl=total("unrealized_pnl"),
        realized_pnl=total("realized_pnl"),
        currency="MIXED" if mixed else target,
        source=SOURCE_IBKR,
        connected=True,
        accounts=accounts,
        as_of=now,
        per_account=dict(per),
        futures_exposure=(None if mixed or not futures else _sum(r.notional_base for r in futures)),
        cash=cash,
        unconverted=tuple(unconverted),
        account=ALL_ACCOUNTS,
        daily_pnl_pct=None if mixed else _daily_pct(total("daily_pnl"), nlv),
        securities_pnl_pct=None
        if mixed
        else _securities_pct(
            [r for r in combined_rows if r.sec_type not in NOT_IN_VALUE and not r.in_cash]
        ),
    )
    return summary, combined_rows


def _combined_cash(parts: list[tuple[CashLine, ...]], book: AccountBook) -> tuple[CashLine, ...]:
    balances: dict[str, float | None] = {}
    for lines in parts:
        for line in lines:
            have = balances.get(line.currency, 0.0)
            balances[line.currency] = (
                None if have is None or line.balance is None else have + line.balance
            )
    out = [
        CashLine(cur, amount, book.rate(cur), book.convert(amount, cur))
        for cur, amount in balances.items()
    ]
    out.sort(key=lambda line: (line.currency != book.base_currency, line.currency))
    return tuple(out)


@dataclass(frozen=True)
class ClassTotal:
    """One asset class of an account: its value and weight in base (futures: their
    notional exposure, which is not value), and its unrealized P&L in base."""

    asset_class: str
    positions: int
    value_base: float | None
    exposure_base: float | None
    unrealized_pnl_base: float | None
    weight_pct: float | None


def by_asset_class(rows: list[PositionRow], net_liquidation: float | None) -> list[ClassTotal]:
    """Totals per asset class, in the order rows are shown (FX left out: it is cash)."""
    out: list[ClassTotal] = []
    for name in dict.fromkeys(r.asset_class for r in rows if not r.in_cash):
        part = [r for r in rows if r.asset_class == name]
        futures = all(r.sec_type in NOT_IN_VALUE for r in part)
        value = None if futures else _sum(r.market_value_base for r in part)
        exposure = _sum(r.notional_base for r in part) if futures else None
        out.append(
            ClassTotal(
                asset_class=name,
                positions=len(part),
                value_base=value,
                exposure_base=exposure,
                unrealized_pnl_base=_sum(r.unrealized_pnl_base for r in part),
                weight_pct=(
                    value / net_liquidation * 100.0
                    if value is not None and net_liquidation
                    else None
                ),
            )
        )
    return out
