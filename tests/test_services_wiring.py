"""Every service is always there, one set per process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import streamlit as st

from ibkr_core.recorder import Recorder
from ibkr_core.services import build_services, get_services, reset_services
from ibkr_core.settings import Settings
from ibkr_core.store import HistoryStore

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def settings(tmp_path) -> Iterator[Settings]:
    reset_services()
    yield Settings(
        watchlist_file=str(tmp_path / "watchlist.json"),  # the store goes beside it
        alphavantage_api_key="",
    )
    reset_services()


def test_a_corrupt_store_file_still_gives_every_service(settings, tmp_path):
    (tmp_path / "history.duckdb").write_bytes(b"not a duckdb file" * 100)
    services = build_services(settings)
    try:
        assert isinstance(services.store, HistoryStore) and services.store.available
        assert "kept as history.duckdb.corrupt-" in services.store.status.message
        assert services.history.store is services.store
        assert isinstance(services.recorder, Recorder) and services.recorder.store is services.store
    finally:
        services.close()
    assert list(tmp_path.glob("history.duckdb.corrupt-*"))


def test_clearing_streamlits_cache_keeps_the_one_process_services(settings, gateway):
    """The services are the process's (the one-process server's lifespan and the API hold
    them too): the app menu's "Clear cache" must not close the IBKR session the API is
    serving, nor hand the dashboard a second connection."""
    from pages.components import _cached_services

    services = get_services(settings)
    assert services.connect("127.0.0.1", gateway.port, 7).connected
    assert _cached_services() is services
    st.cache_resource.clear()
    assert _cached_services() is services
    assert services.connection.status().connected and services.store.available
