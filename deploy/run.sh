#!/usr/bin/env bash
# Runs the whole platform locally: every service that exists in this checkout, behind the nginx
# edge on http://127.0.0.1:8080. PostgreSQL and NATS are installed/started if missing and left
# running afterwards (they are shared with the tests); Ctrl-C stops only what this script started.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

RUN_DIR=$ROOT/.run
EDGE=127.0.0.1:8080
PIDS=() NAMES=()

mapfile -t SERVICES < <(existing_services)
[ "${#SERVICES[@]}" -gt 0 ] || die "no service binaries found (services/<name>/src/main.rs)"
echo "services: ${SERVICES[*]}"

stop_all() {
  trap - EXIT INT TERM
  [ "${#PIDS[@]}" -gt 0 ] || return 0
  log "stopping ${NAMES[*]}"
  # SIGTERM: services drain in-flight work (SHUTDOWN_GRACE_SECS, 20 s by default); anything
  # still alive after 30 s is killed so Ctrl-C always returns.
  kill -TERM "${PIDS[@]}" 2>/dev/null || true
  (sleep 30 && kill -KILL "${PIDS[@]}" 2>/dev/null) &
  local killer=$!
  wait "${PIDS[@]}" 2>/dev/null || true
  kill "$killer" 2>/dev/null || true
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start NAME COMMAND...: run in the background, log to .run/NAME.log, remember the pid.
start() {
  local name=$1
  shift
  "$@" >"$RUN_DIR/$name.log" 2>&1 &
  PIDS+=($!) NAMES+=("$name")
}

# Wait for /readyz (database, NATS and migrations OK); fail fast if the process died.
wait_ready() {
  local name=$1 port=$2 pid=$3 deadline=$((SECONDS + 60))
  until curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/readyz" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
      echo "$name is not ready on :$port (last lines of .run/$name.log):" >&2
      tail -n 40 "$RUN_DIR/$name.log" >&2 || true
      return 1
    fi
    sleep 0.5
  done
}

log "PostgreSQL, NATS, nginx"
ensure_postgres
ensure_nats
ensure_nginx
command -v curl >/dev/null || apt_install curl
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

log "databases"
create_databases "${SERVICES[@]}"

log "building ${SERVICES[*]} (release)"
pkgs=()
for name in "${SERVICES[@]}"; do pkgs+=(-p "$name"); done
cargo build --release --bins "${pkgs[@]}"

mkdir -p "$RUN_DIR/logs" "$RUN_DIR/tmp"
# A port already taken (often a previous run still alive) would make a service die at bind.
for name in "${SERVICES[@]}"; do
  for port in $(service_ports "$name"); do
    ! port_open 127.0.0.1 "$port" || die "port $port ($name) is already in use"
  done
done
! port_open 127.0.0.1 8080 || die "port 8080 (edge) is already in use"

# Development settings: SWITCHBOARD_ENV=development lets the services use development defaults for
# the secrets production must set (SECRETS_KEYS, VOTER_KEY_SECRET) and allows DEV_MAILBOX;
# every service shares one SERVICE_TOKEN for internal gRPC. Webhooks may target local receivers
# (loopback allowed; link-local never), and mail is kept at /v1/dev/mailbox instead of being
# sent. Production config sets none of these.
log "starting services"
for name in "${SERVICES[@]}"; do
  read -r http grpc < <(service_ports "$name")
  start "$name" env \
    SWITCHBOARD_ENV=development \
    SERVICE_TOKEN=local-development-service-token \
    HTTP_ADDR="127.0.0.1:$http" \
    GRPC_ADDR="127.0.0.1:$grpc" \
    DATABASE_URL="postgres://postgres@$PG_HOST:$PG_PORT/${name//-/_}" \
    NATS_URL="nats://$NATS_HOST:$NATS_PORT" \
    IDENTITY_GRPC_URL=http://127.0.0.1:50051 \
    BILLING_GRPC_URL=http://127.0.0.1:50056 \
    APP_BASE_URL="http://$EDGE" \
    ATTACHMENTS_DIR="$RUN_DIR/attachments/$name" \
    WEBHOOK_ALLOW_CIDRS=127.0.0.0/8 \
    DEV_MAILBOX=true \
    "$TARGET_DIR/release/$name"
done

log "starting edge (nginx) on $EDGE"
edge_ports=()
for name in "${SERVICES[@]}"; do
  read -r http grpc < <(service_ports "$name")
  edge_ports+=("$name=$http")
done
render_edge_conf "$RUN_DIR" "$EDGE" "${edge_ports[@]}"
# -e: nginx's early error log, before it has read the config (the default is under /var/log).
"$NGINX" -t -q -p "$RUN_DIR/" -e "$RUN_DIR/logs/edge-error.log" -c nginx.conf
start edge "$NGINX" -p "$RUN_DIR/" -e "$RUN_DIR/logs/edge-error.log" -c nginx.conf

log "waiting for /readyz"
for i in "${!SERVICES[@]}"; do
  name=${SERVICES[$i]}
  read -r http grpc < <(service_ports "$name")
  wait_ready "$name" "$http" "${PIDS[$i]}"
  echo "$name ready"
done

log "Switchboard is running (Ctrl-C stops it; logs in .run/)"
printf '  %-20s %s\n' edge "http://$EDGE"
for name in "${SERVICES[@]}"; do
  read -r http grpc < <(service_ports "$name")
  printf '  %-20s http://127.0.0.1:%s   gRPC 127.0.0.1:%s\n' "$name" "$http" "$grpc"
done

# Returns when any process exits: a crashed service takes the platform down loudly rather than
# leaving it half up. Ctrl-C interrupts the wait and the traps above stop the rest.
exited=
wait -n -p exited "${PIDS[@]}" && status=0 || status=$?
for i in "${!PIDS[@]}"; do
  if [ "${PIDS[$i]}" = "$exited" ]; then log "${NAMES[$i]} exited (status $status); stopping the others"; fi
done
exit 1
