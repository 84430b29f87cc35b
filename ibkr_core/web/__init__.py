"""The dashboard's web server parts (no Streamlit here): the ASGI security middleware,
signed session tokens, the push hub and the one-process app's routes and lifespan.

``streamlit_app.py`` builds its ``st.App`` from ``ibkr_core.web.server``.
"""
