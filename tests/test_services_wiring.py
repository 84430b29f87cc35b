"""Every service is always there; clearing Streamlit's cache releases them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import streamlit as st

from ibkr_core.recorder import Recorder
from ibkr_core.services import build_services, get_services, release_services, reset_services
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


def test_release_closes_the_singleton_and_the_next_get_builds_anew(settings):
    first = get_services(settings)
    release_services(first)
    assert not first.store.available  # closed with it
    second = get_services(settings)
    assert second is not first and second.store.available


def test_clearing_the_cache_resource_releases_the_services(settings):
    from pages.components import _cached_services

    get_services(settings)
    cached = _cached_services()
    st.cache_resource.clear()
    assert not cached.store.available
    assert get_services(settings) is not cached
