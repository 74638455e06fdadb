# shellcheck shell=bash
# Helpers shared by deploy/run.sh and deploy/test.sh. Source it; it only defines things.
#
# Both scripts must work on a bare Debian machine (CI, a fresh laptop VM) as well as on one
# where PostgreSQL and NATS already run, so every ensure_* first checks, and only installs or
# starts what is missing. Nothing here ever stops or restarts a server it did not start.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Where cargo puts binaries (CARGO_TARGET_DIR lets several checkouts share one build cache).
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
PG_HOST=127.0.0.1 PG_PORT=5432
NATS_HOST=127.0.0.1 NATS_PORT=4222

# Every service the platform will have, in start order (identity first: the others ask it to
# authenticate). Only those with a binary in the workspace are used, so adding a service needs
# no script change beyond service_ports and the edge template.
ALL_SERVICES=(identity feedback ticketing inbox-sync webhooks-dispatcher billing-metrics)

log() { printf '\n\033[1;34m==> %s\033[0m\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# Package installs need root; use sudo only when we are not root (CI containers have no sudo).
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

_APT_UPDATED=
apt_install() {
  log "installing $* (apt-get)"
  if [ -z "$_APT_UPDATED" ]; then as_root apt-get update -q && _APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
}

# True when something accepts TCP connections on HOST PORT (bash's /dev/tcp: no netcat needed).
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

# wait_until SECONDS WHAT COMMAND...: poll COMMAND every half second until it succeeds.
wait_until() {
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "timed out waiting for $what" >&2; return 1; }
    sleep 0.5
  done
}

pg_ready() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; }
psql_admin() { psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA "$@"; }

ensure_postgres() {
  # A server may already answer (this machine, a container) and only the client be missing.
  if ! command -v pg_isready >/dev/null && port_open "$PG_HOST" "$PG_PORT"; then
    apt_install postgresql-client
  fi
  if command -v pg_isready >/dev/null && pg_ready; then
    echo "PostgreSQL is up on $PG_HOST:$PG_PORT"
    return 0
  fi

  local fresh=
  if ! command -v pg_ctlcluster >/dev/null || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
    apt_install postgresql
    fresh=1
  fi
  local version hba
  version=$(ls /etc/postgresql | head -1)
  hba=/etc/postgresql/$version/main/pg_hba.conf
  if [ -n "$fresh" ]; then
    # Debian's default asks for a password over TCP; services and tests connect as
    # postgres@127.0.0.1 without one. The first matching pg_hba line wins, so prepend.
    # Only on a cluster we just created: an existing cluster's auth is its owner's choice.
    as_root sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
  fi
  # --skip-systemctl-redirect: start the cluster directly, also where systemd is not PID 1.
  if as_root pg_ctlcluster --skip-systemctl-redirect "$version" main status >/dev/null 2>&1; then
    [ -z "$fresh" ] || as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  else
    log "starting PostgreSQL $version"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
  fi
  wait_until 30 "PostgreSQL on $PG_HOST:$PG_PORT" pg_ready
}

ensure_nats() {
  if port_open "$NATS_HOST" "$NATS_PORT"; then
    echo "NATS is up on $NATS_HOST:$NATS_PORT"
    return 0
  fi
  [ -x /usr/sbin/nats-server ] || apt_install nats-server
  log "starting nats-server with JetStream"
  as_root mkdir -p /var/lib/nats-server /var/log
  # -js: the services need JetStream (streams EVENTS and COMMANDS); -sd keeps it across restarts.
  as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a "$NATS_HOST" -p "$NATS_PORT" -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  wait_until 30 "NATS on $NATS_HOST:$NATS_PORT" port_open "$NATS_HOST" "$NATS_PORT"
}

ensure_nginx() {
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || apt_install nginx
}

# create_databases NAME...: one database per service (DESIGN §6), dashes become underscores.
create_databases() {
  local name db
  for name in "$@"; do
    db=${name//-/_}
    if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
      echo "creating database $db"
      createdb -h "$PG_HOST" -p "$PG_PORT" -U postgres "$db"
    fi
  done
}

# The services that exist in this checkout (have a binary), in start order.
existing_services() {
  local name
  for name in "${ALL_SERVICES[@]}"; do
    if [ -f "$ROOT/services/$name/src/main.rs" ]; then echo "$name"; fi
  done
}

# service_ports NAME: prints "HTTP_PORT GRPC_PORT" (DESIGN §9).
service_ports() {
  case $1 in
    identity) echo "8081 50051" ;;
    feedback) echo "8082 50052" ;;
    ticketing) echo "8083 50053" ;;
    inbox-sync) echo "8084 50054" ;;
    webhooks-dispatcher) echo "8085 50055" ;;
    billing-metrics) echo "8086 50056" ;;
    *) echo "no ports assigned to service '$1' (add it to service_ports in deploy/lib.sh)" >&2; return 1 ;;
  esac
}

# render_edge_conf DIR LISTEN NAME=PORT...: write DIR/nginx.conf from the edge template for the
# given services (HTTP ports), listening on LISTEN, plus the edge-errors.conf it includes. Blocks
# of services not given are dropped, so nginx never routes to (or fails to start on) a service
# that is not there. Start it with `nginx -p DIR/ -c nginx.conf` (it keeps its files in DIR).
render_edge_conf() {
  local dir=$1 listen=$2
  shift 2
  mkdir -p "$dir/logs" "$dir/tmp"
  awk -v ports="$*" -v listen="$listen" '
    BEGIN { n = split(ports, kv, " "); for (i = 1; i <= n; i++) { split(kv[i], p, "="); port[p[1]] = p[2] } }
    /^# >>> / { cur = $3; next }
    /^# <<< / { cur = ""; next }
    cur != "" && !(cur in port) { next }
    cur != "" { gsub(/@HTTP_PORT@/, port[cur]) }
    { gsub(/@LISTEN@/, listen); print }
  ' "$ROOT/deploy/nginx/edge.conf.template" >"$dir/nginx.conf"
  cp "$ROOT/deploy/nginx/edge-errors.conf" "$dir/edge-errors.conf"
}

# free_port: print a TCP port nothing on 127.0.0.1 listens on now (for test-only listeners),
# below Linux's ephemeral range (32768+) so no outgoing connection takes it before the bind.
free_port() {
  local port
  for _ in $(seq 100); do
    port=$((20000 + RANDOM % 12000))
    port_open 127.0.0.1 "$port" || { echo "$port"; return 0; }
  done
  echo "no free port found" >&2
  return 1
}

# take_port VAR: set VAR to a free port no earlier take_port of this script handed out (two
# free_port calls may pick the same one, since nothing binds it in between).
_TAKEN_PORTS=" "
take_port() {
  local -n _port_var=$1 # names of its own locals start with _port_ so the caller's VAR is reached
  local _port_new
  while :; do
    _port_new=$(free_port) || return 1
    case $_TAKEN_PORTS in *" $_port_new "*) continue ;; esac
    _TAKEN_PORTS+="$_port_new "
    _port_var=$_port_new
    return 0
  done
}
