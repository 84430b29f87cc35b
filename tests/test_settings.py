"""Settings refuse values that would switch a safety limit off (issue 14, case 2)."""

from __future__ import annotations

import pytest

from ibkr_core.settings import Settings, SettingsError


@pytest.mark.parametrize("raw", ["nan", "inf", "-inf", "-1", "0", "NaN", "1e999"])
def test_a_non_finite_or_non_positive_order_cap_refuses_to_start(tmp_path, raw):
    with pytest.raises(SettingsError) as err:
        Settings.load({"IBKR_MAX_ORDER_VALUE": raw}, secrets_file=tmp_path / "none.toml")
    message = str(err.value)
    assert "max_order_value (env IBKR_MAX_ORDER_VALUE)" in message
    assert "finite number greater than 0" in message


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"IBKR_REQUEST_TIMEOUT": "nan"}, "request_timeout"),
        ({"IBKR_REFRESH_INTERVAL": "0"}, "refresh_interval"),
        ({"IBKR_STALE_AFTER": "inf"}, "stale_after"),
        ({"IBKR_PORT": "70000"}, "between 1 and 65535"),
        ({"IBKR_PORT": "abc"}, r"port \(env IBKR_PORT\) must be a whole number"),
        ({"IBKR_CLIENT_ID": "-3"}, "client_id"),
        ({"IBKR_MAX_ORDER_VALUE": "lots"}, "must be a number"),
    ],
)
def test_every_bad_number_names_its_setting(tmp_path, env, words):
    with pytest.raises(SettingsError, match=words):
        Settings.load(env, secrets_file=tmp_path / "none.toml")


def test_the_secrets_file_is_checked_too(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text("max_order_value = nan\n")
    with pytest.raises(SettingsError, match="max_order_value"):
        Settings.load({}, secrets_file=secrets)


def test_good_values_load():
    s = Settings.load({"IBKR_MAX_ORDER_VALUE": "2500.5", "IBKR_PORT": "4002"})
    assert s.max_order_value == 2500.5 and s.port == 4002
    with pytest.raises(SettingsError):
        Settings(max_order_value=float("nan"))


def test_the_dashboard_refuses_to_start_and_says_which_setting(monkeypatch, tmp_path):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from ibkr_core import services as services_module
    from tests.app_support import ROOT, shown

    monkeypatch.setenv("IBKR_MAX_ORDER_VALUE", "nan")
    monkeypatch.setenv("IBKR_WATCHLIST_FILE", str(tmp_path / "wl.json"))
    services_module.reset_services()
    st.cache_resource.clear()
    try:
        at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=30)
        at.run()
        errors = [shown(e.value) for e in at.error]
        assert any(
            "could not start" in e and "IBKR_MAX_ORDER_VALUE" in e and "finite" in e for e in errors
        ), errors
        assert not at.button  # nothing to trade with
    finally:
        services_module.reset_services()
        st.cache_resource.clear()
