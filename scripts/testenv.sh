#!/usr/bin/env bash
# Runs a command beside a throwaway redis-server and PostgreSQL 15, then stops
# both and deletes their data, whatever the command's outcome.
#
#   scripts/testenv.sh go test -race -count=1 ./...
#
# The command sees:
#   PROOFGRID_TEST_REDIS_URL     redis://127.0.0.1:PORT/0
#   PROOFGRID_TEST_POSTGRES_URL  postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable
#   PROOFGRID_TEST_REDIS_SERVER  path of redis-server, for tests that start more instances
#
# Both servers listen on free loopback ports and keep their files in one
# temporary directory, so several runs can share a machine. PostgreSQL uses
# trust authentication and fsync=off: it holds test data only. The script
# installs nothing; scripts/ensure-deps.sh does.
#
# Exit status: the command's own, or 1 when the servers cannot be started.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

die() {
	echo "testenv: $*" >&2
	exit 1
}

[ $# -gt 0 ] || die "usage: $0 COMMAND [ARG...]"

redis_server=$(command -v redis-server || true)
[ -n "$redis_server" ] ||
	die "redis-server not found: install the Debian package redis-server (scripts/ensure-deps.sh does)"
for bin in initdb pg_ctl; do
	[ -x "$PG_BIN/$bin" ] ||
		die "$PG_BIN/$bin not found: install the Debian package postgresql-15 (scripts/ensure-deps.sh does), or set PG_BIN"
done

# initdb and postgres refuse to run as root, so root runs them as the
# postgres user that the postgresql-15 package creates.
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
	id postgres >/dev/null 2>&1 ||
		die "running as root needs the postgres user to run PostgreSQL; install the Debian package postgresql-15"
	if command -v runuser >/dev/null 2>&1; then
		as_pg=(runuser -u postgres --)
	else
		# shellcheck disable=SC2016 # expanded by the postgres user's sh
		as_pg=(su -s /bin/sh -c '"$0" "$@"' -- postgres)
	fi
fi
pg() { (cd "$tmp" && "${as_pg[@]}" "$@"); }

tmp=
redis_pid=
pg_started=

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "$pg_started" ]; then
		pg "$PG_BIN/pg_ctl" -D "$tmp/pg/data" -m fast -t 30 -w stop >/dev/null 2>&1 || {
			# The postmaster's pid is the first line of postmaster.pid.
			local pid
			pid=$(head -n1 "$tmp/pg/data/postmaster.pid" 2>/dev/null || true)
			[ -z "$pid" ] || kill -9 "$pid" 2>/dev/null || true
		}
	fi
	if [ -n "$redis_pid" ]; then
		kill "$redis_pid" 2>/dev/null || true
		# Wait so that the port and files are released before we return.
		for _ in $(seq 1 50); do
			kill -0 "$redis_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$redis_pid" 2>/dev/null || true
		wait "$redis_pid" 2>/dev/null || true
	fi
	[ -z "$tmp" ] || rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

tmp=$(mktemp -d "${TMPDIR:-/tmp}/proofgrid-testenv.XXXXXX")
# The postgres user must reach its data directory inside.
chmod 755 "$tmp"

# free_port prints a loopback TCP port that nothing listens on now. A server
# can still lose it to another process before binding, so callers retry.
free_port() {
	local port
	for _ in $(seq 1 100); do
		port=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	die "no free TCP port found"
}

redis_ping() {
	local reply
	exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
	printf 'PING\r\n' >&3
	read -r -t 2 reply <&3 || true
	exec 3<&- 3>&-
	[ "${reply%$'\r'}" = "+PONG" ]
}

start_redis() {
	local port
	mkdir -p "$tmp/redis"
	for _ in 1 2 3 4 5; do
		port=$(free_port)
		"$redis_server" --bind 127.0.0.1 --port "$port" --dir "$tmp/redis" \
			--save "" --appendonly no --daemonize no \
			--logfile "$tmp/redis/redis.log" &
		redis_pid=$!
		for _ in $(seq 1 100); do
			if redis_ping "$port" 2>/dev/null; then
				redis_port=$port
				return 0
			fi
			kill -0 "$redis_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill "$redis_pid" 2>/dev/null || true
		wait "$redis_pid" 2>/dev/null || true
		redis_pid=
	done
	cat "$tmp/redis/redis.log" >&2 2>/dev/null || true
	die "redis-server did not start"
}

start_postgres() {
	local port
	mkdir -p "$tmp/pg/data" "$tmp/pg/run"
	[ ${#as_pg[@]} -eq 0 ] || chown -R postgres: "$tmp/pg"
	pg "$PG_BIN/initdb" -D "$tmp/pg/data" -U postgres --auth=trust \
		--encoding=UTF8 --locale=C --no-sync >"$tmp/pg/initdb.log" 2>&1 || {
		cat "$tmp/pg/initdb.log" >&2
		die "initdb failed"
	}
	# Set before starting: a start that times out may leave a server behind.
	pg_started=1
	for _ in 1 2 3 4 5; do
		port=$(free_port)
		# Tests run in parallel, each with a pool, so allow many connections.
		if pg "$PG_BIN/pg_ctl" -D "$tmp/pg/data" -l "$tmp/pg/postgres.log" -w -t 60 \
			-o "-c listen_addresses=127.0.0.1 -p $port -k $tmp/pg/run -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=500" \
			start >/dev/null; then
			pg_port=$port
			return 0
		fi
	done
	cat "$tmp/pg/postgres.log" >&2 2>/dev/null || true
	die "PostgreSQL did not start"
}

start_redis
start_postgres

export PROOFGRID_TEST_REDIS_URL="redis://127.0.0.1:$redis_port/0"
export PROOFGRID_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$pg_port/postgres?sslmode=disable"
export PROOFGRID_TEST_REDIS_SERVER="$redis_server"
echo "testenv: redis on :$redis_port, postgres on :$pg_port (data in $tmp)" >&2

# The command runs in the foreground so that it keeps the terminal and gets
# Ctrl-C itself; a TERM sent to this script alone is handled once it exits.
set +e
"$@"
status=$?
set -e
exit "$status"
