"""Commissions beyond US stocks and FX (IBKR Pro fixed pricing, rounded to the cent's
precision TWS reports), in the contract's currency, and the exchange an execution reports.

- US options: USD 0.65 per contract, minimum USD 1.00.
- Futures and options on futures (CME): USD 0.85 per contract.
- Xetra (IBIS) stocks: 0.05% of trade value, minimum EUR 1.25, maximum EUR 29.00.
- SEHK stocks: 0.08% of trade value, minimum HKD 18.00.
- US Treasuries: 0.002% of face value, minimum USD 5.00.
- Crypto (PAXOS): 0.18% of trade value, minimum USD 1.75.
"""

from __future__ import annotations

from .universe import Instrument


def commission(inst: Instrument, qty: float, price: float) -> float:
    qty = abs(qty)
    value = qty * price * inst.value_factor
    if inst.sec_type == "OPT":
        fee = max(0.65 * qty, 1.00)
    elif inst.sec_type in ("FUT", "FOP"):
        fee = 0.85 * qty
    elif inst.sec_type == "BOND":
        fee = max(0.00002 * qty * (inst.face_value or 1000.0), 5.00)
    elif inst.sec_type == "CRYPTO":
        fee = max(0.0018 * value, 1.75)
    elif inst.primary_exchange == "SEHK":
        fee = max(0.0008 * value, 18.00)
    elif inst.currency == "EUR":
        fee = min(max(0.0005 * value, 1.25), 29.00)
    else:
        fee = max(0.0005 * value, 1.00)
    return round(fee, 6)


def exec_exchange(inst: Instrument) -> str:
    """Where an execution of `inst` reports it happened (TWS names the venue)."""
    if inst.sec_type == "OPT":
        return "CBOE"
    if inst.sec_type == "BOND":
        return "IBKRATS"
    return inst.primary_exchange or inst.exchange
