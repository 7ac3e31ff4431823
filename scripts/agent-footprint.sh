#!/usr/bin/env bash
# Measures the agent's idle footprint: RSS and CPU % of the agent process
# while it only sends heartbeats, at each given interval. CPU includes the
# processes the agent started and waited for (cutime, cstime).
#   scripts/agent-footprint.sh [SECONDS_PER_RUN] [INTERVAL...]
#   scripts/agent-footprint.sh 60 15s 1s
# Starts its own redis-server and coordinator (SQLite) on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-60}
shift || true
INTERVALS=("$@")
[ $# -eq 0 ] && INTERVALS=(15s 1s)

make --no-print-directory build >/dev/null
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	redis-cli -p "$rport" shutdown nosave >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
rport=$(port)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes --dir "$tmp" --logfile "$tmp/redis.log"
hz=$(getconf CLK_TCK)

for interval in "${INTERVALS[@]}"; do
	hport=$(port)
	export PROOFGRID_DATABASE_URL="sqlite://$tmp/db-$interval.db" PROOFGRID_REDIS_URL="redis://127.0.0.1:$rport/0" \
		PROOFGRID_HTTP_ADDR="127.0.0.1:$hport" PROOFGRID_HEARTBEAT_INTERVAL="$interval" PROOFGRID_LOG_LEVEL=warn
	token=$(bin/coordinator token create --team footprint --mode write 2>/dev/null)
	bin/coordinator serve >"$tmp/coordinator.log" 2>&1 &
	cpid=$!
	pids+=("$cpid")
	for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$hport/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
	bin/agent run --coordinator "http://127.0.0.1:$hport" --token "$token" --role avs --state-dir "$tmp/agent-$interval" \
		--interval "$interval" --log-level warn >"$tmp/agent.log" 2>&1 &
	apid=$!
	pids+=("$apid")
	sleep 5 # enrolment and the first samples
	read -r -a st </proc/$apid/stat
	t0=$((st[13] + st[14] + st[15] + st[16]))
	s0=$(date +%s.%N)
	maxrss=0
	end=$((SECONDS + DURATION))
	while [ $SECONDS -lt $end ]; do
		rss=$(awk '/VmRSS/{print $2}' /proc/$apid/status)
		[ "$rss" -gt "$maxrss" ] && maxrss=$rss
		sleep 1
	done
	read -r -a st </proc/$apid/stat
	t1=$((st[13] + st[14] + st[15] + st[16]))
	s1=$(date +%s.%N)
	rss=$(awk '/VmRSS/{print $2}' /proc/$apid/status)
	awk -v i="$interval" -v hz="$hz" -v s0="$s0" -v s1="$s1" -v rss="$rss" -v max="$maxrss" -v dt=$((t1 - t0)) \
		'BEGIN { printf "interval %-4s  rss %.1f MiB (max %.1f MiB)  cpu %.3f %% of one core over %.0f s\n", i, rss/1024, max/1024, 100*dt/hz/(s1-s0), s1-s0 }'
	kill "$apid" "$cpid"; wait "$apid" "$cpid" 2>/dev/null || true
	pids=()
done
