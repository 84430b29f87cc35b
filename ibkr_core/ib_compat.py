"""Fixes for ib_async bugs that real accounts meet, each narrow, idempotent and tested.

ib_async 2.1 decodes a bond's contract details (BOND_CONTRACT_DATA) into
``ContractDetails`` and converts each field by the *type of its default*: ``coupon`` is
declared ``float`` but defaults to the int ``0``, so IBKR's "4.25" goes through ``int()``,
raises, and the whole message is dropped. Every bond with a fractional coupon (most of
them) then has no contract details: no name, no maturity, ``reqContractDetails`` times
out. Declaring the default as ``0.0`` makes the decoder read it as the float it is.

Remove a fix once the pinned ib_async carries it (``tests/test_ib_compat.py`` says which).
"""

from __future__ import annotations

from ib_async import ContractDetails

__all__ = ["apply_ib_async_fixes", "bond_coupon_fixed"]


def bond_coupon_fixed() -> bool:
    """Whether ib_async reads ``ContractDetails.coupon`` as a float (fixed or patched)."""
    field = ContractDetails.__dataclass_fields__["coupon"]
    return type(field.default) is float


def apply_ib_async_fixes() -> None:
    """Apply every fix above (safe to call more than once)."""
    if not bond_coupon_fixed():
        field = ContractDetails.__dataclass_fields__["coupon"]
        field.default = 0.0  # the decoder's parse() converts by type(field.default)
