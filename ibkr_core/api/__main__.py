"""``python -m ibkr_core.api [--host 127.0.0.1] [--port 8000] [--client-id N] [--demo]``

Builds its own ``Services`` (its own IBKR connection with client id
``settings.client_id + 100`` unless ``--client-id``), connects in the background
(``--no-connect`` to skip; ``--demo`` starts the built-in simulated gateway instead)
and serves the API with uvicorn until Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import threading

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
    parser.add_argument("--log-level", default="info")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    from ibkr_core.api.app import API_CLIENT_ID_OFFSET, create_app
    from ibkr_core.services import build_services
    from ibkr_core.settings import Settings

    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    settings = Settings.load()
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
    if args.host not in ("127.0.0.1", "localhost", "::1") and not settings.api_token:
        log.warning("binding %s without IBKR_API_TOKEN: anyone on the network can trade", args.host)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level.lower())


if __name__ == "__main__":
    main()
