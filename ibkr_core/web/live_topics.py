"""The ``/api/live`` topics beyond quotes: the Portfolio page's figures and the Trade
page's open orders and fills, each as "what changed since the last message".

    portfolio = PortfolioTopic(account)       # None: the only account / all
    part = portfolio.diff(view)               # {"cards": [...], "positions": {...}, ...}
    orders = OrdersTopic(cursor)
    part = orders.diff(open_orders, fills, events)

A part is ``None`` when nothing changed. Every figure is text written by
``ibkr_core/figures.py`` (the pages' own wording and currencies), so the browser only
places it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ibkr_core.figures import (
    cash_cells,
    cash_total_text,
    fill_cells,
    finished_cells,
    metric_cards,
    order_cells,
    position_cells,
)
from ibkr_core.order_book import group_brackets

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ibkr_core.order_book import FillRecord, OrderEvent, OrderRecord
    from ibkr_core.portfolio import PortfolioView

__all__ = ["OrdersTopic", "PortfolioTopic", "keyed_diff"]

Rows = dict[str, dict[str, Any]]


def keyed_diff(
    sent: Rows, rows: Rows, sent_order: list[str]
) -> tuple[Rows, list[str], list[str] | None]:
    """(changed rows, removed keys, the new row order or None when it did not change);
    ``sent`` becomes ``rows``."""
    changed = {k: v for k, v in rows.items() if sent.get(k) != v}
    removed = [k for k in sent if k not in rows]
    order = list(rows)
    sent.clear()
    sent.update(rows)
    return changed, removed, (order if order != sent_order else None)


@dataclass
class PortfolioTopic:
    account: str | None
    sent_cards: list[dict[str, Any]] | None = None
    sent_rows: Rows = field(default_factory=dict)
    sent_order: list[str] = field(default_factory=list)
    sent_header: dict[str, Any] | None = None
    sent_cash: Rows = field(default_factory=dict)
    sent_cash_order: list[str] = field(default_factory=list)
    sent_cash_total: str | None = None

    def diff(self, view: PortfolioView) -> dict[str, Any] | None:
        s = view.summary
        part: dict[str, Any] = {}
        header = {"account": self.account, "base": s.currency, "connected": s.connected}
        if self.sent_header is None:
            part["reset"] = True  # a new topic: every row follows, forget the old ones
        if header != self.sent_header:
            part.update(header)
            self.sent_header = header
        cards = [asdict(c) for c in metric_cards(s, view.rows)]
        if cards != self.sent_cards:
            part["cards"] = self.sent_cards = cards
        rows = {c["key"]: c for c in (position_cells(r, s.currency) for r in view.rows)}
        changed, removed, order = keyed_diff(self.sent_rows, rows, self.sent_order)
        if changed:
            part["positions"] = changed
        if removed:
            part["removed"] = removed
        if order is not None:
            part["order"] = self.sent_order = order
        cash = {c["key"]: c for c in (cash_cells(line, s.currency) for line in s.cash)}
        changed, removed, order = keyed_diff(self.sent_cash, cash, self.sent_cash_order)
        if changed:
            part["cash"] = changed
        if removed:
            part["cash_removed"] = removed
        if order is not None:
            part["cash_order"] = self.sent_cash_order = order
        total = cash_total_text(s) if s.cash else ""
        if total != self.sent_cash_total:
            part["cash_total"] = self.sent_cash_total = total
        return part or None


@dataclass
class OrdersTopic:
    cursor: int
    sent_open: Rows = field(default_factory=dict)
    sent_open_order: list[str] = field(default_factory=list)
    sent_fills: Rows = field(default_factory=dict)
    sent_fill_order: list[str] = field(default_factory=list)
    sent_finished: Rows = field(default_factory=dict)
    sent_finished_order: list[str] = field(default_factory=list)
    first: bool = True

    def diff(
        self,
        open_orders: list[OrderRecord],
        fills: list[FillRecord],
        events: list[OrderEvent],
        cursor: int,
        recent: Sequence[OrderRecord] = (),  # today's orders, newest first (the finished ones)
    ) -> dict[str, Any] | None:
        part: dict[str, Any] = {}
        rows = {
            c["key"]: c for c in (order_cells(r, child) for r, child in group_brackets(open_orders))
        }
        changed, removed, order = keyed_diff(self.sent_open, rows, self.sent_open_order)
        if changed:
            part["open"] = changed
        if removed:
            part["closed"] = removed
        if order is not None or self.first:
            part["open_order"] = self.sent_open_order = list(rows)
        fill_rows = {c["key"]: c for c in (fill_cells(f) for f in reversed(fills))}  # newest first
        changed, _, order = keyed_diff(self.sent_fills, fill_rows, self.sent_fill_order)
        if changed:
            part["fills"] = changed
        if order is not None or self.first:
            part["fill_order"] = self.sent_fill_order = list(fill_rows)
        done = {
            c["key"]: c for c in (finished_cells(r) for r, _ in group_brackets(recent) if r.is_done)
        }
        changed, removed, order = keyed_diff(self.sent_finished, done, self.sent_finished_order)
        if changed:
            part["finished"] = changed
        if removed:
            part["finished_removed"] = removed
        if order is not None or self.first:
            part["finished_order"] = self.sent_finished_order = list(done)
        if events:
            part["events"] = [{"kind": e.kind, "message": e.message} for e in events]
        self.cursor = cursor
        self.first = False
        return part or None
