"""``python -m ibkr_core.api [--host 127.0.0.1] [--port 8000] [--client-id N] [--demo]``

For headless use: ``streamlit run streamlit_app.py`` serves the same API on the
dashboard's port, over the dashboard's own connection. This builds its own ``Services``
(its own IBKR connection with client id ``settings.client_id + 100`` unless
``--client-id``), connects in the background (``--no-connect`` to skip; ``--demo``
starts the built-in simulated gateway instead) and serves the API with uvicorn until Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading

from ibkr_core.web.security import install_log_redaction, is_loopback

log = logging.getLogger("ibkr_core.api")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ibkr_core.api", description="IBKR dashboard HTTP/WebSocket API"
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="bind port (default 8000)")
    parser.add_argument(
        "--client-id",
        type=int,
        default=None,
        help="IBKR client id for the API's own connection (default settings.client_id + 100)",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--no-connect", action="store_true", help="don't connect to IBKR at startup")
    group.add_argument(
        "--demo", action="store_true", help="start the built-in simulated gateway and use it"
    )
    parser.add_argument(
        "--allow-remote-without-token",
        action="store_true",
        help="bind a non-loopback --host although IBKR_API_TOKEN is not set (anyone who "
        "reaches the port can trade)",
    )
    parser.add_argument("--log-level", default="info")
    return parser.parse_args(argv)


def refuse_open_bind(host: str, api_token: str, allow: bool) -> str | None:
    """Why binding ``host`` must not go ahead (None: fine)."""
    if is_loopback(host) or api_token or allow:
        return None
    return (
        f"refusing to listen on {host} without IBKR_API_TOKEN: anyone who reaches the port "
        "could trade. Set IBKR_API_TOKEN (and IBKR_ALLOWED_HOSTS to the names clients use), "
        "or pass --allow-remote-without-token."
    )


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    from ibkr_core.api.app import API_CLIENT_ID_OFFSET, create_app
    from ibkr_core.services import build_services
    from ibkr_core.settings import Settings

    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    settings = Settings.load()
    refusal = refuse_open_bind(args.host, settings.api_token, args.allow_remote_without_token)
    if refusal:
        print(f"python -m ibkr_core.api: {refusal}", file=sys.stderr)
        raise SystemExit(2)
    client_id = (
        args.client_id if args.client_id is not None else settings.client_id + API_CLIENT_ID_OFFSET
    )
    services = build_services(settings)
    app = create_app(services, client_id=client_id, own_services=True)

    def connect() -> None:
        if args.demo:
            status = services.connect_demo(client_id)
        else:
            status = services.connect(settings.host, settings.port, client_id)
        if status.connected:
            log.info("IBKR connected: %s:%s client %s", status.host, status.port, status.client_id)
        else:
            log.warning("IBKR not connected: %s", status.last_error)

    if not args.no_connect:
        threading.Thread(target=connect, name="api-connect", daemon=True).start()
    if not is_loopback(args.host) and not settings.api_token:
        log.warning("binding %s without IBKR_API_TOKEN: anyone on the network can trade", args.host)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level.lower())
    install_log_redaction()  # uvicorn.Config configures its loggers: filter after that
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
