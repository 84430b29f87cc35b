"""Entry point: `streamlit run streamlit_app.py`.

One file, two roles:

- Imported by `streamlit run` (as module ``streamlit_app``), it holds ``app``: the
  ``st.App`` that serves the dashboard, the HTTP API (``/api/...``, ``/docs``) and the
  live streams on one port, over one ``Services`` (``ibkr_core/web/server.py``).
- Run by Streamlit as each page view's script (as ``__main__``): page config, the
  password gate (nothing of the account before it), navigation (pages whose file
  exists), the sidebar connection panel, the chosen page.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ibkr_core.access import check_password, password_required
from ibkr_core.services import get_services
from ibkr_core.web.server import app_options
from pages.components import begin_entry_run, render_sidebar, require_services

ROOT = Path(__file__).resolve().parent
PAGES = (
    ("pages/portfolio.py", "Portfolio", ":material/account_balance_wallet:"),
    ("pages/market_data.py", "Market data", ":material/monitoring:"),
    ("pages/trade.py", "Trade", ":material/swap_horiz:"),
    ("pages/explore.py", "Explore", ":material/query_stats:"),
)


def _check_password() -> None:
    """Form callback: check, then forget the attempt (never kept in the session)."""
    ok = check_password(get_services().settings, st.session_state.get("password", ""))
    st.session_state["password"] = ""
    st.session_state["authenticated"] = ok
    st.session_state["sign_in_failed"] = not ok


def _sign_in() -> None:
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        st.title("IBKR dashboard")
        st.caption("This dashboard is password protected.")
        with st.form("sign_in"):
            st.text_input("Password", type="password", key="password")
            st.form_submit_button("Sign in", type="primary", on_click=_check_password)
        if st.session_state.pop("sign_in_failed", False):
            st.error("Wrong password.")


def main() -> None:
    begin_entry_run()
    st.set_page_config(
        page_title="IBKR dashboard", page_icon=":material/monitoring:", layout="wide"
    )
    services = require_services()
    pages = [
        st.Page(path, title=title, icon=icon, default=i == 0)
        for i, (path, title, icon) in enumerate(p for p in PAGES if (ROOT / p[0]).exists())
    ]
    if password_required(services.settings) and not st.session_state.get("authenticated"):
        # The pages are known (a deep link is no "page not found") but none runs: the
        # sign-in form does, and after it the link's page.
        st.navigation(pages, position="hidden")
        _sign_in()
        st.stop()

    page = st.navigation(pages)
    render_sidebar(services)
    if password_required(services.settings):
        st.sidebar.button(
            "Sign out", key="sign_out", on_click=st.session_state.pop, args=("authenticated", None)
        )
    page.run()


if __name__ == "__main__":  # Streamlit runs the entry point as __main__
    main()
else:  # `streamlit run` imports it to find the ASGI app
    app = st.App(__file__, **app_options())
