#!/usr/bin/env bash
# Installs the proofgrid agent as a systemd service on a prover or AVS machine.
#
#   sudo scripts/install-agent.sh --binary ./bin/agent \
#       --coordinator https://coordinator.example --token pg_... --role prover --cluster 7
#
# It
#   - copies the binary to /usr/local/bin/proofgrid-agent,
#   - creates the system user "proofgrid" (added to the "video" group where it
#     exists, since some distributions restrict /dev/nvidia* to it),
#   - creates the state directory /var/lib/proofgrid-agent (0700), where the
#     agent keeps its key: keep it across reinstalls or the machine enrols anew,
#   - writes /etc/proofgrid/agent.env (0600, root): coordinator URL, token, role
#     and the optional settings; without --token an existing file is kept, so
#     upgrading needs only --binary,
#   - writes /etc/systemd/system/proofgrid-agent.service,
#   - runs systemctl daemon-reload, enable, and restart (so an upgrade takes
#     effect), unless --no-start.
#
# Options (environment fallback in brackets; an option wins):
#   --binary PATH          agent binary to install [PROOFGRID_AGENT_BINARY]
#   --coordinator URL      coordinator base URL [PROOFGRID_COORDINATOR_URL]
#   --token TOKEN          team API token [PROOFGRID_AGENT_TOKEN]
#   --role prover|avs      [PROOFGRID_AGENT_ROLE]
#   --cluster ID           prover cluster [PROOFGRID_AGENT_CLUSTER]
#   --name NAME            machine name, default the hostname [PROOFGRID_AGENT_NAME]
#   --interval DURATION    heartbeat interval, e.g. 15s [PROOFGRID_AGENT_INTERVAL]
#   --redis URL            Redis URL overriding the coordinator's [PROOFGRID_AGENT_REDIS_URL]
#   --concurrency N        jobs at once [PROOFGRID_AGENT_CONCURRENCY]
#   --rw-path DIR          extra writable path for job backends (repeatable); the
#                          unit otherwise sees the file system read-only
#   --no-start             write everything but call no systemctl (image builds)
#   --dry-run              change nothing; print the unit and environment file
#                          (token masked) that would be written
set -euo pipefail

BIN_DEST=/usr/local/bin/proofgrid-agent
STATE_DIR=/var/lib/proofgrid-agent
ENV_DIR=/etc/proofgrid
ENV_FILE=$ENV_DIR/agent.env
UNIT_FILE=/etc/systemd/system/proofgrid-agent.service
SERVICE_USER=proofgrid

die() {
	echo "install-agent: $*" >&2
	exit 1
}

binary=${PROOFGRID_AGENT_BINARY:-}
coordinator=${PROOFGRID_COORDINATOR_URL:-}
token=${PROOFGRID_AGENT_TOKEN:-}
role=${PROOFGRID_AGENT_ROLE:-}
cluster=${PROOFGRID_AGENT_CLUSTER:-}
name=${PROOFGRID_AGENT_NAME:-}
interval=${PROOFGRID_AGENT_INTERVAL:-}
redis=${PROOFGRID_AGENT_REDIS_URL:-}
concurrency=${PROOFGRID_AGENT_CONCURRENCY:-}
rw_paths=()
start=1
dry_run=0

need_arg() {
	[ $# -ge 2 ] || die "$1 needs a value"
}

while [ $# -gt 0 ]; do
	case $1 in
	--binary) need_arg "$@"; binary=$2; shift 2 ;;
	--coordinator) need_arg "$@"; coordinator=$2; shift 2 ;;
	--token) need_arg "$@"; token=$2; shift 2 ;;
	--role) need_arg "$@"; role=$2; shift 2 ;;
	--cluster) need_arg "$@"; cluster=$2; shift 2 ;;
	--name) need_arg "$@"; name=$2; shift 2 ;;
	--interval) need_arg "$@"; interval=$2; shift 2 ;;
	--redis) need_arg "$@"; redis=$2; shift 2 ;;
	--concurrency) need_arg "$@"; concurrency=$2; shift 2 ;;
	--rw-path) need_arg "$@"; rw_paths+=("$2"); shift 2 ;;
	--no-start) start=0; shift ;;
	--dry-run) dry_run=1; shift ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option $1 (see --help)" ;;
	esac
done

# An existing environment file is kept when no token is given: that is an
# upgrade of the binary and unit only.
keep_env=0
if [ -z "$token" ] && [ -f "$ENV_FILE" ] && [ -z "$coordinator$role$cluster$name$interval$redis$concurrency" ]; then
	keep_env=1
else
	[ -n "$coordinator" ] || die "--coordinator is required"
	[ -n "$token" ] || die "--token is required"
	[ -n "$role" ] || die "--role is required"
	case $coordinator in http://* | https://*) ;; *) die "--coordinator must be an http or https URL" ;; esac
	case $role in prover | avs) ;; *) die "--role must be prover or avs" ;; esac
	if [ -n "$concurrency" ] && ! [[ $concurrency =~ ^[0-9]+$ ]]; then
		die "--concurrency must be a number"
	fi
fi
for p in "${rw_paths[@]}"; do
	case $p in /*) ;; *) die "--rw-path $p must be absolute" ;; esac
	case $p in *[[:space:]]*) die "--rw-path $p must not contain spaces" ;; esac
done

# env_line prints KEY="VALUE" in systemd's EnvironmentFile syntax, where
# backslash and double quote are escaped inside double quotes.
env_line() {
	local v=$2
	case $v in *$'\n'* | *$'\r'*) die "$1 must not contain a line break" ;; esac
	v=${v//\\/\\\\}
	v=${v//\"/\\\"}
	printf '%s="%s"\n' "$1" "$v"
}

env_file() {
	echo "# proofgrid agent settings, read by $UNIT_FILE."
	echo "# Flags of 'proofgrid-agent run' override these."
	env_line PROOFGRID_COORDINATOR_URL "$coordinator"
	env_line PROOFGRID_AGENT_TOKEN "$1"
	env_line PROOFGRID_AGENT_ROLE "$role"
	[ -z "$cluster" ] || env_line PROOFGRID_AGENT_CLUSTER "$cluster"
	[ -z "$name" ] || env_line PROOFGRID_AGENT_NAME "$name"
	[ -z "$interval" ] || env_line PROOFGRID_AGENT_INTERVAL "$interval"
	[ -z "$redis" ] || env_line PROOFGRID_AGENT_REDIS_URL "$redis"
	[ -z "$concurrency" ] || env_line PROOFGRID_AGENT_CONCURRENCY "$concurrency"
}

unit_file() {
	local rw="$STATE_DIR"
	for p in "${rw_paths[@]}"; do
		rw="$rw $p"
	done
	cat <<EOF
[Unit]
Description=proofgrid agent (heartbeats and jobs for the proofgrid coordinator)
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
User=$SERVICE_USER
Group=$SERVICE_USER
EnvironmentFile=$ENV_FILE
Environment=PROOFGRID_AGENT_STATE_DIR=$STATE_DIR
ExecStart=$BIN_DEST run
Restart=always
RestartSec=5
# The agent lets running jobs finish for up to its shutdown timeout (30s by
# default) before asynq requeues them; stop must outlast that. Only the agent
# gets SIGTERM, so that it, not systemd, stops the processes its jobs started.
KillMode=mixed
TimeoutStopSec=90
StateDirectory=proofgrid-agent
StateDirectoryMode=0700
UMask=0077
LimitNOFILE=65536

# Hardening. PrivateDevices and ProtectClock are left off on purpose: NVML
# needs /dev/nvidia*, and on older systemd ProtectClock implies a DeviceAllow
# list that shuts out every other device.
# Job backends that write elsewhere need their paths in ReadWritePaths
# (install-agent.sh --rw-path).
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths=$rw
ProtectHome=yes
PrivateTmp=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
LockPersonality=yes
SystemCallArchitectures=native
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK

[Install]
WantedBy=multi-user.target
EOF
}

if [ "$dry_run" -eq 1 ]; then
	echo "# dry run: nothing is changed"
	echo "# would install ${binary:-<--binary not given>} as $BIN_DEST"
	echo "# would create system user $SERVICE_USER and $STATE_DIR (0700)"
	if [ "$keep_env" -eq 1 ]; then
		echo "# would keep the existing $ENV_FILE"
	else
		echo "# would write $ENV_FILE (0600):"
		env_file "${token:0:6}...(masked)"
	fi
	echo "# would write $UNIT_FILE:"
	unit_file
	if [ "$start" -eq 1 ]; then
		echo "# would run: systemctl daemon-reload && systemctl enable proofgrid-agent && systemctl restart proofgrid-agent"
	fi
	exit 0
fi

[ "$(id -u)" -eq 0 ] || die "must run as root (or use --dry-run)"
[ -n "$binary" ] || die "--binary is required"
[ -f "$binary" ] || die "binary $binary not found"
"$binary" version >/dev/null 2>&1 || die "$binary does not run here (wrong architecture or build?)"

install -m 0755 "$binary" "$BIN_DEST.new"
mv -f "$BIN_DEST.new" "$BIN_DEST"

if ! getent passwd "$SERVICE_USER" >/dev/null; then
	useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home \
		--shell /usr/sbin/nologin --comment "proofgrid agent" "$SERVICE_USER"
fi
if getent group video >/dev/null; then
	usermod -a -G video "$SERVICE_USER"
fi
install -d -m 0700 -o "$SERVICE_USER" -g "$SERVICE_USER" "$STATE_DIR"

install -d -m 0755 "$ENV_DIR"
if [ "$keep_env" -eq 0 ]; then
	tmp=$(mktemp "$ENV_DIR/.agent.env.XXXXXX")
	chmod 0600 "$tmp"
	env_file "$token" >"$tmp"
	mv -f "$tmp" "$ENV_FILE"
fi
chown root:root "$ENV_FILE"
chmod 0600 "$ENV_FILE"

unit_file >"$UNIT_FILE.new"
chmod 0644 "$UNIT_FILE.new"
mv -f "$UNIT_FILE.new" "$UNIT_FILE"

echo "install-agent: installed $BIN_DEST ($("$BIN_DEST" version)), $ENV_FILE and $UNIT_FILE"
if [ "$start" -eq 1 ]; then
	systemctl daemon-reload
	systemctl enable proofgrid-agent
	systemctl restart proofgrid-agent
	echo "install-agent: proofgrid-agent started; follow it with: journalctl -u proofgrid-agent -f"
else
	echo "install-agent: not started; run: systemctl daemon-reload && systemctl enable --now proofgrid-agent"
fi
