#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine, then runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium >/dev/null
fi
python3 -m pip install -q -r requirements-dev.txt
# IBKR's own 10.x client (nautilus_ibapi) installs as `ibapi`, like ibapi 9.81: each version
# goes into a folder of its own, used by tests/test_sim_versions.py in a separate process.
for v in 10.19.4 10.46.1; do
  [ -d ".clients/nautilus_ibapi-$v/ibapi" ] ||
    python3 -m pip install -q --no-deps --target ".clients/nautilus_ibapi-$v" "nautilus_ibapi==$v"
done
python3 -m ruff check .
python3 -m pytest "$@"
