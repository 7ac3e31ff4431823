#!/usr/bin/env bash
# Measures the agent's idle footprint: RSS and CPU % of the agent process
# while it sends heartbeats and, for a prover, waits on its job queue, at
# each given interval. CPU is the scheduler's count for the agent's threads;
# the tick count beside it also includes the processes the agent started
# and waited for (cutime, cstime), of which a sample starts none.
#   scripts/agent-footprint.sh [SECONDS_PER_RUN] [INTERVAL...]
#   scripts/agent-footprint.sh 60 15s 1s
# ROLES (default "avs prover") picks the roles: an AVS agent only sends
# heartbeats; a prover agent also runs its asynq server on its cluster's
# queue, which stays empty. AGENT_BIN (default bin/agent, built here)
# measures another agent binary, e.g. an older build, against the same
# coordinator. The prover is measured once its idle job server has parked
# (PARK_AFTER, default 10s, passed as --park-after; PARK_AFTER=-1s keeps the
# asynq server running, as an agent before parking did; PARK_AFTER= passes
# no flag and waits for no parking, for an older binary).
# Starts its own redis-server and coordinator (SQLite) on loopback.
# Baseline: in the same minutes, node_exporter (NODE_EXPORTER, default the
# Debian package's prometheus-node-exporter, or node_exporter on PATH;
# NODE_EXPORTER=none skips it) runs beside the agent and is scraped at the
# same interval, and is measured the same way, so that the agent's figure
# has a baseline that the host's noise weighs on alike.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-60}
shift || true
INTERVALS=("$@")
[ $# -eq 0 ] && INTERVALS=(15s 1s)
read -r -a ROLES <<<"${ROLES:-avs prover}"
AGENT_BIN=${AGENT_BIN:-bin/agent}
PARK_AFTER=${PARK_AFTER-10s}
NODE_EXPORTER=${NODE_EXPORTER:-$(command -v prometheus-node-exporter || command -v node_exporter || echo none)}
if [ "$NODE_EXPORTER" = none ]; then
	echo "agent-footprint: no node_exporter baseline (apt-get install prometheus-node-exporter, or set NODE_EXPORTER)" >&2
fi

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
# cpu_ns prints the CPU time of process $1's threads in nanoseconds, as the
# scheduler counts it (/proc/PID/task/*/schedstat). The clock ticks of
# /proc/PID/stat are sampled every 10 ms: a process that wakes for a
# fraction of a millisecond a few times a minute is charged a whole tick
# when one lands on it and nothing otherwise, which at 0.03 % is mostly
# luck. Both are printed; the first figure is the scheduler's.
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%d", s }'; }

for role in "${ROLES[@]}"; do
	for interval in "${INTERVALS[@]}"; do
		hport=$(port)
		url="http://127.0.0.1:$hport"
		export PROOFGRID_DATABASE_URL="sqlite://$tmp/db-$role-$interval.db" PROOFGRID_REDIS_URL="redis://127.0.0.1:$rport/0" \
			PROOFGRID_HTTP_ADDR="127.0.0.1:$hport" PROOFGRID_HEARTBEAT_INTERVAL="$interval" PROOFGRID_LOG_LEVEL=warn
		token=$(bin/coordinator token create --team footprint --mode write 2>/dev/null)
		bin/coordinator serve >"$tmp/coordinator.log" 2>&1 &
		cpid=$!
		pids+=("$cpid")
		for _ in $(seq 100); do curl -fsS "$url/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
		args=(run --coordinator "$url" --role "$role" --state-dir "$tmp/agent-$role-$interval" --interval "$interval" --log-level warn)
		if [ "$role" = prover ]; then
			# A prover consumes its cluster's queue: create a cluster of the
			# built-in demo zkVM (version id 1) and enrol into it.
			curl -fsS -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
				-d '{"name":"footprint","zkvm_version_id":1,"num_gpus":1}' "$url/api/v0/clusters" >/dev/null
			uuid=$(curl -fsS -H "Authorization: Bearer $token" "$url/api/v0/clusters" |
				python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["uuid"])')
			args+=(--cluster "$uuid")
			[ -n "$PARK_AFTER" ] && args+=(--park-after "$PARK_AFTER")
		fi
		PROOFGRID_AGENT_TOKEN="$token" "$AGENT_BIN" "${args[@]}" >"$tmp/agent.log" 2>&1 &
		apid=$!
		pids+=("$apid")
		sleep 5 # enrolment, the job server's start and the first samples
		if [ "$role" = prover ]; then
			# asynq's server heartbeat stores each server's queues in Redis.
			# grep -c reads to the end: with grep -q, pipefail would see the
			# writer's SIGPIPE as a failure.
			consuming() {
				redis-cli -p "$rport" --scan --pattern 'asynq:servers:*' |
					while read -r k; do redis-cli -p "$rport" --raw get "$k"; done | grep -ac "prove.cluster-$uuid" >/dev/null
			}
			for _ in $(seq 30); do consuming && break; sleep 1; done
			if ! consuming; then
				echo "agent-footprint: the prover agent is not consuming its queue; see its log:" >&2
				cat "$tmp/agent.log" >&2
				exit 1
			fi
			# An idle prover parks its job server after --park-after; its
			# idle cost is measured parked (PARK_AFTER=-1s: never parks).
			if [ -n "$PARK_AFTER" ] && [[ $PARK_AFTER != -* ]]; then
				for _ in $(seq 120); do consuming || break; sleep 1; done
				if consuming; then
					echo "agent-footprint: the idle prover did not park its job server; see its log:" >&2
					cat "$tmp/agent.log" >&2
					exit 1
				fi
			fi
		fi
		npid=
		if [ "$NODE_EXPORTER" != none ]; then
			nport=$(port)
			"$NODE_EXPORTER" --web.listen-address="127.0.0.1:$nport" >"$tmp/node_exporter.log" 2>&1 &
			npid=$!
			pids+=("$npid")
			for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$nport/metrics" >/dev/null 2>&1 && break; sleep 0.1; done
			# Scraped as Prometheus would, at the agent's interval.
			(while sleep "$interval"; do curl -fs "http://127.0.0.1:$nport/metrics" >/dev/null || true; done) &
			pids+=("$!")
			sleep 2
			e0=$(cpu_ns "$npid")
		fi
		read -r -a st </proc/$apid/stat
		t0=$((st[13] + st[14] + st[15] + st[16]))
		n0=$(cpu_ns "$apid")
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
		n1=$(cpu_ns "$apid")
		s1=$(date +%s.%N)
		rss=$(awk '/VmRSS/{print $2}' /proc/$apid/status)
		awk -v r="$role" -v i="$interval" -v hz="$hz" -v s0="$s0" -v s1="$s1" -v rss="$rss" -v max="$maxrss" -v dt=$((t1 - t0)) -v dns=$((n1 - n0)) \
			'BEGIN { printf "%-6s interval %-4s  rss %.1f MiB (max %.1f MiB)  cpu %.3f %% of one core (%.1f ms; %d ticks: %.3f %%) over %.0f s\n", r, i, rss/1024, max/1024, 100*dns/1e9/(s1-s0), dns/1e6, dt, 100*dt/hz/(s1-s0), s1-s0 }'
		if [ -n "$npid" ]; then
			e1=$(cpu_ns "$npid")
			nrss=$(awk '/VmRSS/{print $2}' /proc/$npid/status)
			awk -v i="$interval" -v s0="$s0" -v s1="$s1" -v rss="$nrss" -v ens=$((e1 - e0)) -v dns=$((n1 - n0)) \
				'BEGIN { printf "       node_exporter, same minutes, scraped every %s: rss %.1f MiB  cpu %.3f %% of one core (%.1f ms); agent/node_exporter %.2f\n", i, rss/1024, 100*ens/1e9/(s1-s0), ens/1e6, (ens > 0 ? dns/ens : 0) }'
		fi
		for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
		wait "${pids[@]}" 2>/dev/null || true
		pids=()
	done
done
