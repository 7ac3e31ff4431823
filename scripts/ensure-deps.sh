#!/usr/bin/env bash
# Installs the system packages the tests need, when they are missing:
#   redis-server   the throwaway Redis of scripts/testenv.sh
#   postgresql-15  the server binaries (initdb, pg_ctl) of its throwaway
#                  PostgreSQL; the package's own cluster is never used, so it
#                  does not matter whether it runs
#   chromium       the headless browser of the console's browser tests
#                  (coordinator/console, driven through chromedp)
# Runs apt-get as root, or through sudo when not root.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ ! -x "$PG_BIN/initdb" ] || [ ! -x "$PG_BIN/pg_ctl" ]; then
	missing+=(postgresql-15)
fi
chromium_bin() { command -v chromium || command -v chromium-browser || command -v google-chrome || true; }
[ -n "$(chromium_bin)" ] || missing+=(chromium)

if [ ${#missing[@]} -eq 0 ]; then
	echo "ensure-deps: redis-server, postgresql-15 and chromium are installed"
	exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		sudo=(sudo -n)
	else
		echo "ensure-deps: need root or sudo to install: ${missing[*]}" >&2
		exit 1
	fi
fi

echo "ensure-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -q --no-install-recommends "${missing[@]}"

# Check what the tests will look for, not only apt-get's status.
command -v redis-server >/dev/null 2>&1 || {
	echo "ensure-deps: redis-server still missing after install" >&2
	exit 1
}
[ -x "$PG_BIN/initdb" ] || {
	echo "ensure-deps: $PG_BIN/initdb still missing after installing postgresql-15" >&2
	exit 1
}
[ -n "$(chromium_bin)" ] || {
	echo "ensure-deps: chromium still missing after install" >&2
	exit 1
}
echo "ensure-deps: done"
