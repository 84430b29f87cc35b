"""The dashboard password.

Public API::

    password_required(settings) -> bool
    check_password(settings, attempt) -> bool

The password comes from ``Settings.dashboard_password`` (env ``IBKR_DASHBOARD_PASSWORD``
or ``dashboard_password`` in ``.streamlit/secrets.toml``). The comparison is constant-time
(``hmac.compare_digest`` over SHA-256 digests, so not even the length leaks). Neither the
password nor an attempt is ever logged, put in a URL or kept after the check.
"""

from __future__ import annotations

import hashlib
import hmac

from ibkr_core.settings import Settings

__all__ = ["check_password", "password_required"]


def password_required(settings: Settings) -> bool:
    return bool(settings.dashboard_password)


def check_password(settings: Settings, attempt: str | None) -> bool:
    """True when no password is configured, or ``attempt`` equals it."""
    expected = settings.dashboard_password
    if not expected:
        return True
    if not attempt:
        return False
    a = hashlib.sha256(attempt.encode("utf-8")).digest()
    b = hashlib.sha256(expected.encode("utf-8")).digest()
    return hmac.compare_digest(a, b)
