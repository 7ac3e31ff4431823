#!/usr/bin/env bash
# Starts the whole system on the embedded defaults: a local redis-server
# (installed with apt-get when missing; data under ./data/redis), the
# coordinator on SQLite (./data/proofgrid.db) with the zkGolf fixture
# challenges, one demo prover agent and one zkGolf verifier agent with the
# built-in lint checker. Prints the URLs, an operator token, the demo
# team's admin token and a zkGolf token. Ctrl-C stops all of it.
#
# Settings (environment): PROOFGRID_RUN_HTTP_PORT (8080),
# PROOFGRID_RUN_REDIS_PORT (6390), PROOFGRID_RUN_AGENT_ROLE (prover),
# PROOFGRID_RUN_AGENT_CLUSTER (demo), PROOFGRID_RUN_INTERVAL (15s).
set -euo pipefail
cd "$(dirname "$0")/.."

HTTP_PORT=${PROOFGRID_RUN_HTTP_PORT:-8080}
REDIS_PORT=${PROOFGRID_RUN_REDIS_PORT:-6390}
ROLE=${PROOFGRID_RUN_AGENT_ROLE:-prover}
CLUSTER=${PROOFGRID_RUN_AGENT_CLUSTER:-demo}
INTERVAL=${PROOFGRID_RUN_INTERVAL:-15s}
DATA=./data
URL="http://127.0.0.1:${HTTP_PORT}"

if ! command -v redis-server >/dev/null 2>&1; then
	echo "run: installing redis-server"
	sudo=()
	[ "$(id -u)" -ne 0 ] && sudo=(sudo)
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server
fi

echo "run: building"
make --no-print-directory build

mkdir -p "$DATA/redis" "$DATA/agent" "$DATA/verifier" "$DATA/logs"
chmod 700 "$DATA"

pids=()
cleanup() {
	trap - INT TERM EXIT
	echo
	echo "run: stopping"
	# Agent first, then the coordinator (it drains HTTP and its tasks), then
	# Redis, which flushes its append-only file on SHUTDOWN.
	for pid in $(printf '%s\n' "${pids[@]}" | tac); do
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	redis-cli -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || true
}
trap cleanup INT TERM EXIT

if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
	echo "run: using the redis-server already on port $REDIS_PORT"
else
	redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$DATA/redis" \
		--appendonly yes --appendfsync everysec --maxmemory-policy noeviction \
		--save "" --logfile "$PWD/$DATA/logs/redis.log" --daemonize yes
	for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

# The JWT secret and the demo tokens are made once and kept under ./data
# (0600), since a token is shown only when created.
[ -s "$DATA/jwt_secret" ] || (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DATA/jwt_secret")
export JWT_SECRET=$(cat "$DATA/jwt_secret")
export PROOFGRID_DATABASE_URL="sqlite://$DATA/proofgrid.db"
export PROOFGRID_REDIS_URL="redis://127.0.0.1:${REDIS_PORT}/0"
export PROOFGRID_HTTP_ADDR="127.0.0.1:${HTTP_PORT}"
export PROOFGRID_DATA_DIR="$DATA"
# The demo simulates claims (POST /claims/epoch/claim); production leaves it off.
export PROOFGRID_CLAIM_SIMULATION=${PROOFGRID_CLAIM_SIMULATION:-true}

# The operator token (global rights: feeding blocks, /monitor) belongs to
# team demo too, so it also creates the demo cluster; the team's admin
# token manages team demo only.
if [ ! -s "$DATA/operator_token" ]; then
	(umask 077; bin/coordinator token create --operator --team demo --label "make run operator" 2>/dev/null >"$DATA/operator_token")
fi
if [ ! -s "$DATA/admin_token" ]; then
	(umask 077; bin/coordinator token create --team demo --mode admin --label "make run admin" 2>/dev/null >"$DATA/admin_token")
fi
if [ ! -s "$DATA/agent_token" ]; then
	(umask 077; bin/coordinator token create --team demo --mode write --label "make run agent" 2>/dev/null >"$DATA/agent_token")
fi
OPERATOR_TOKEN=$(cat "$DATA/operator_token")
if [ ! -s "$DATA/golf_token" ]; then
	(umask 077; bin/coordinator golf token create --user demo --label "make run" 2>/dev/null >"$DATA/golf_token")
fi
ADMIN_TOKEN=$(cat "$DATA/admin_token")
GOLF_TOKEN=$(cat "$DATA/golf_token")
# zkGolf challenges: the fixture project unless PROOFGRID_GOLF_CHALLENGES
# names a zk-golf-challenges checkout.
export PROOFGRID_GOLF_CHALLENGES=${PROOFGRID_GOLF_CHALLENGES:-golf/testdata/challenges}

bin/coordinator serve >>"$DATA/logs/coordinator.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -fsS "$URL/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "$URL/readyz" >/dev/null || { echo "run: coordinator did not start; see $DATA/logs/coordinator.log"; tail -20 "$DATA/logs/coordinator.log"; exit 1; }

api() { # METHOD PATH [JSON]: an operator call to the coordinator
	curl -fsS -X "$1" -H "Authorization: Bearer $OPERATOR_TOKEN" -H 'Content-Type: application/json' ${3:+-d "$3"} "$URL$2"
}

# A prover agent needs an Ethproofs cluster: create the demo cluster (the
# built-in demo zkVM, version id 1) once and look up its UUID, which names
# the agent's queue.
if [ "$ROLE" = prover ]; then
	cluster_uuid() {
		api GET /api/v0/clusters | python3 -c 'import json,sys
for c in json.load(sys.stdin):
    if c["name"] == sys.argv[1]: print(c["uuid"]); break' "$CLUSTER"
	}
	uuid=$(cluster_uuid)
	if [ -z "$uuid" ]; then
		api POST /api/v0/clusters "{\"name\":\"$CLUSTER\",\"zkvm_version_id\":1,\"num_gpus\":1,\"hardware_description\":\"make run demo prover\",\"deployment_type\":\"on-prem\"}" >/dev/null
		uuid=$(cluster_uuid)
	fi
	[ -n "$uuid" ] || { echo "run: could not create the demo cluster"; exit 1; }
fi

# The token goes through the environment, not argv, which any local user
# can read with ps.
export PROOFGRID_AGENT_TOKEN=$(cat "$DATA/agent_token")
agent_args=(run --coordinator "$URL" --role "$ROLE" --state-dir "$DATA/agent" --interval "$INTERVAL")
[ "$ROLE" = prover ] && agent_args+=(--cluster "$uuid")
bin/agent "${agent_args[@]}" >>"$DATA/logs/agent.log" 2>&1 &
pids+=($!)
# A zkGolf verifier: consumes verify.golf, one submission at a time, with
# the built-in lint checker (no Lean needed; see docs/zkgolf.md for the
# real checker).
# Verifier agents see every team's submissions: they enrol with the
# operator token.
PROOFGRID_AGENT_TOKEN=$OPERATOR_TOKEN bin/agent run --coordinator "$URL" --role verifier --name verifier-1 --state-dir "$DATA/verifier" \
	--interval "$INTERVAL" --verifier-checker lint >>"$DATA/logs/verifier.log" 2>&1 &
pids+=($!)

# Without an Ethereum node to follow, feed the pipeline a demo block every
# PROOFGRID_RUN_BLOCK_EVERY seconds (default 20): each is proved by the agent
# and verified by the coordinator.
if [ "$ROLE" = prover ]; then
	(
		n=$(api GET "/api/v0/proofs?limit=1" | python3 -c 'import json,sys; p=json.load(sys.stdin)["proofs"]; print(p[0]["block_number"] if p else 0)' 2>/dev/null || echo 0)
		while sleep "${PROOFGRID_RUN_BLOCK_EVERY:-20}"; do
			n=$((n + 1))
			hash=0x$(printf 'proofgrid demo block %d' "$n" | sha256sum | cut -c1-64)
			api POST /api/v0/blocks "{\"block_number\":$n,\"hash\":\"$hash\"}" >/dev/null 2>&1 || true
		done
	) &
	pids+=($!)
fi

# Merkle claims: a genesis allocation for a demo hotkey (idempotent by its
# request_id, so a restart credits nothing twice), then an epoch closed now
# (nothing is published when no entry was made since the latest one).
DEMO_HOTKEY=5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY
api POST /api/v1/admin/rewards "{\"request_id\":\"make-run-genesis\",\"entries\":[{\"hotkey\":\"$DEMO_HOTKEY\",\"amount_units\":\"1000000000000\",\"reason\":\"genesis\"},{\"hotkey\":\"0x00000000000000000000000000000000000000aa\",\"amount_units\":\"18446744073709551616\",\"reason\":\"genesis\"}]}" >/dev/null ||
	echo "run: could not grant the genesis allocation"
api POST /api/v1/admin/epochs >/dev/null || echo "run: could not close an epoch"

cat <<MSG

proofgrid is running (logs in $DATA/logs/):
  console      $URL/ui   (sign in with the admin token below for team demo, or the operator token for every team)
  API          $URL            (health: $URL/health, ready: $URL/readyz)
  machines     curl -H "Authorization: Bearer \$(cat $DATA/admin_token)" $URL/proofgrid/v1/machines
  queues       curl -H "Authorization: Bearer \$(cat $DATA/admin_token)" $URL/proofgrid/v1/queues   (team demo's)
  monitor      $URL/monitor    (asynqmon, every queue; user: any name, password: the operator token)
  proofs       $URL/api/v0/proofs   (a demo block every ${PROOFGRID_RUN_BLOCK_EVERY:-20}s, proved by the agent, verified by the coordinator)
  fleet        curl -H "Authorization: Bearer \$(cat $DATA/admin_token)" $URL/v1/client/status
  claims       curl $URL/claims/epoch/proof/$DEMO_HOTKEY   (claim package; tree dump: $URL/claims/epoch/1/tree)
  claim it     curl $URL/claims/epoch/proof/$DEMO_HOTKEY | curl -H 'Content-Type: application/json' -d @- $URL/claims/epoch/claim
  api docs     $URL/docs   (Pool and claims; $URL/openapi.json)
  metrics      $URL/metrics
  zkGolf       $URL/api/agent/v1/docs   (challenges: $URL/api/agent/v1/challenges; verifier log: $DATA/logs/verifier.log)
                submit: curl -H "Authorization: Bearer \$(cat $DATA/golf_token)" -F artifact=@Main.lean \\
                          -F allocations=100 -F constraints=120 $URL/api/agent/v1/challenges/assert-bytes/submissions
  operator token  $OPERATOR_TOKEN   (global: blocks, zkVMs, stake, rewards, epochs, /monitor)
  admin token     $ADMIN_TOKEN   (team demo only)
  zkGolf token    $GOLF_TOKEN
Ctrl-C stops the agents, the coordinator and Redis.
MSG
wait -n "${pids[@]}" || true
echo "run: a process exited; see $DATA/logs/"
