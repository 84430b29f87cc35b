"""The dashboard password.

Public API::

    password_required(settings) -> bool
    check_password(settings, attempt) -> bool

The password comes from ``Settings.dashboard_password`` (env ``IBKR_DASHBOARD_PASSWORD``
or ``dashboard_password`` in ``.streamlit/secrets.toml``). The comparison is constant-time
(``hmac.compare_digest`` over SHA-256 digests, so not even the length leaks). Neither the
password nor an attempt is ever logged, put in a URL or kept after the check.

Wrong attempts are slowed down for the whole process: each one waits, in turn behind a
single lock, 0.25 s, 0.5 s, 1 s, then 2 s per attempt while they keep coming (the count
forgets after a minute without a wrong attempt). Guessing from many sessions at once is
no faster than from one (about 30 guesses a minute), while a correct password never
waits for the lock: other sessions sign in at once.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ibkr_core.settings import Settings

__all__ = ["WrongPasswordThrottle", "check_password", "password_required"]


@dataclass
class WrongPasswordThrottle:
    base_delay: float = 0.25
    max_delay: float = 2.0
    forget_after: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    _last: float = float("-inf")
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def delay_for(self, failures: int) -> float:
        return min(self.max_delay, self.base_delay * 2 ** max(0, failures - 1))

    def penalize(self) -> float:
        """(After a wrong attempt.) Wait this attempt's turn; returns the delay slept."""
        with self._lock:
            if self.clock() - self._last > self.forget_after:
                self.failures = 0
            self.failures += 1
            delay = self.delay_for(self.failures)
            self.sleep(delay)
            self._last = self.clock()
            return delay


THROTTLE = WrongPasswordThrottle()


def password_required(settings: Settings) -> bool:
    return bool(settings.dashboard_password)


def check_password(settings: Settings, attempt: str | None) -> bool:
    """True when no password is configured, or ``attempt`` equals it. A wrong attempt
    returns only after its slowdown (see the module docstring)."""
    expected = settings.dashboard_password
    if not expected:
        return True
    if attempt:
        a = hashlib.sha256(attempt.encode("utf-8")).digest()
        b = hashlib.sha256(expected.encode("utf-8")).digest()
        if hmac.compare_digest(a, b):
            return True
    THROTTLE.penalize()
    return False
