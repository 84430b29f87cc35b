"""Entry point: `streamlit run streamlit_app.py`.

Order of a run: page config, the password gate (nothing of the account before it),
navigation (pages whose file exists), the sidebar connection panel, the chosen page.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ibkr_core.access import check_password, password_required
from pages.components import render_sidebar, require_services, use_navigation_mode

ROOT = Path(__file__).resolve().parent
PAGES = (
    ("pages/portfolio.py", "Portfolio", ":material/account_balance_wallet:"),
    ("pages/market_data.py", "Market data", ":material/monitoring:"),
    ("pages/trade.py", "Trade", ":material/swap_horiz:"),
)

use_navigation_mode()  # before anything: pages/ holds st.navigation pages, not legacy ones
st.set_page_config(page_title="IBKR dashboard", page_icon=":material/monitoring:", layout="wide")

services = require_services()


def _sign_in() -> None:
    st.title("IBKR dashboard")
    with st.form("sign_in", clear_on_submit=True):
        attempt = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        if check_password(services.settings, attempt):
            st.session_state["authenticated"] = True
            st.rerun()
        st.error("Wrong password.")


if password_required(services.settings) and not st.session_state.get("authenticated"):
    st.navigation([st.Page(_sign_in, title="Sign in")], position="hidden").run()
    st.stop()

page = st.navigation(
    [
        st.Page(path, title=title, icon=icon, default=i == 0)
        for i, (path, title, icon) in enumerate(p for p in PAGES if (ROOT / p[0]).exists())
    ]
)
render_sidebar(services)
if password_required(services.settings) and st.sidebar.button("Sign out", key="sign_out"):
    st.session_state.pop("authenticated", None)
    st.rerun()
page.run()
