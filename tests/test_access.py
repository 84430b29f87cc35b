"""The dashboard password: where it comes from, how it is compared, where it never goes."""

from __future__ import annotations

import hmac
import logging

import pytest

from ibkr_core import access
from ibkr_core.access import check_password, password_required
from ibkr_core.settings import Settings

pytestmark = pytest.mark.timeout(10)

SECRET = "s3cret-pässwörd"


@pytest.fixture(autouse=True)
def no_slowdown(monkeypatch):
    """Tests of the comparison itself don't wait out the wrong-password slowdown."""
    monkeypatch.setattr(access, "THROTTLE", access.WrongPasswordThrottle(sleep=lambda _s: None))


def test_no_password_configured_means_open():
    settings = Settings()
    assert not password_required(settings)
    assert check_password(settings, "")
    assert check_password(settings, None)


@pytest.mark.parametrize(
    ("attempt", "ok"),
    [
        (SECRET, True),
        ("s3cret-passwort", False),
        (SECRET + " ", False),
        (SECRET[:-1], False),
        (SECRET.upper(), False),
        ("", False),
        (None, False),
    ],
)
def test_check_password(attempt, ok):
    settings = Settings(dashboard_password=SECRET)
    assert password_required(settings)
    assert check_password(settings, attempt) is ok


def test_comparison_is_constant_time(monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(access.hmac, "compare_digest", spy)
    check_password(Settings(dashboard_password=SECRET), "x")
    check_password(Settings(dashboard_password=SECRET), "a much longer attempt " * 10)
    assert len(calls) == 2
    # digests of equal length: neither the password nor its length is compared directly
    assert all(len(a) == len(b) == 32 for a, b in calls)
    assert all(SECRET.encode() not in (a, b) for a, b in calls)


def test_password_from_env_wins_over_secrets_file(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('dashboard_password = "from-file"\n')
    from_file = Settings.load(environ={}, secrets_file=secrets)
    assert check_password(from_file, "from-file")
    from_env = Settings.load(environ={"IBKR_DASHBOARD_PASSWORD": "from-env"}, secrets_file=secrets)
    assert check_password(from_env, "from-env")
    assert not check_password(from_env, "from-file")


def test_password_never_in_repr_or_logs(caplog):
    settings = Settings(dashboard_password=SECRET)
    assert SECRET not in repr(settings)
    with caplog.at_level(logging.DEBUG):
        check_password(settings, SECRET)
        check_password(settings, "wrong " + SECRET)
    assert SECRET not in caplog.text


def test_app_never_puts_the_password_in_a_url():
    from tests.conftest import ROOT

    source = (ROOT / "streamlit_app.py").read_text()
    assert "query_params" not in source


# ------------------------------------------------ slowdown after wrong passwords
@pytest.fixture
def throttle(monkeypatch):
    slept: list[float] = []
    now = [1000.0]

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    t = access.WrongPasswordThrottle(sleep=sleep, clock=lambda: now[0])
    monkeypatch.setattr(access, "THROTTLE", t)
    t.slept, t.now = slept, now  # type: ignore[attr-defined]
    return t


def test_wrong_passwords_are_slowed_down_more_and_more(throttle):
    settings = Settings(dashboard_password=SECRET)
    for _ in range(30):
        assert not check_password(settings, "guess")
    assert throttle.slept[:4] == [0.25, 0.5, 1.0, 2.0]
    assert max(throttle.slept) == 2.0
    assert sum(throttle.slept) > 50  # 30 guesses take about a minute, not 4.6 s
    assert check_password(settings, SECRET)  # the right one is not slowed
    assert len(throttle.slept) == 30


def test_the_count_forgets_after_a_quiet_minute(throttle):
    settings = Settings(dashboard_password=SECRET)
    for _ in range(5):
        check_password(settings, "guess")
    throttle.now[0] += 61
    check_password(settings, "guess")
    assert throttle.slept[-1] == 0.25


def test_a_correct_sign_in_does_not_wait_for_other_sessions_guesses(monkeypatch):
    import threading
    import time

    t = access.WrongPasswordThrottle(base_delay=0.5, max_delay=0.5)
    monkeypatch.setattr(access, "THROTTLE", t)
    settings = Settings(dashboard_password=SECRET)
    guessers = [threading.Thread(target=check_password, args=(settings, "guess")) for _ in range(4)]
    started = time.monotonic()
    for g in guessers:
        g.start()
    time.sleep(0.05)
    assert check_password(settings, SECRET)
    assert time.monotonic() - started < 0.4  # not behind the 4 x 0.5 s of guesses
    for g in guessers:
        g.join(5)
    assert time.monotonic() - started >= 2.0  # the guesses were serialised
