#!/usr/bin/env bash
# Fuzzes every service's HTTP API against its own OpenAPI document with schemathesis (`--checks
# all`): any 5xx, or any status, header, content type or body the document does not declare,
# fails. Run by deploy/test.sh; alone: `deploy/fuzz.sh [SERVICE...]` (default: every service that
# exists). The pass is bounded and reproducible: a fixed seed and a fixed number of examples per
# operation (FUZZ_SEED, FUZZ_MAX_EXAMPLES), no example database carried between runs.
# FUZZ_NO_BUILD=1 uses the debug binaries as they are.
#
# Each service runs from its debug binary on free ports with a fresh database, all sharing one
# NATS prefix (feedback and the dispatcher consume identity's events) and authenticating through
# the identity started here. The fuzzer signs up once and calls as that organization's owner.
# Reports (JUnit) and service logs are in .run/fuzz/ (FUZZ_OUT: elsewhere, so that runs of
# different services at the same time do not clear each other's). Everything started is stopped
# on exit.
# deploy/fuzz/ holds the fuzzer's settings and hooks.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

SCHEMATHESIS_VERSION=4.32.5
# Every document must be valid OpenAPI before it is fuzzed (a fuzzer reads past some errors).
SPEC_VALIDATOR_VERSION=0.9.0
SEED=${FUZZ_SEED:-42}
MAX_EXAMPLES=${FUZZ_MAX_EXAMPLES:-100}
# Per service: a hung run must not hold CI (its limit is 90 minutes for everything).
SERVICE_TIMEOUT=${FUZZ_SERVICE_TIMEOUT_SECS:-600}
VENV=$ROOT/.run/fuzz-venv
OUT=${FUZZ_OUT:-$ROOT/.run/fuzz}

# FUZZ: the services fuzzed; SERVICES: those started, identity first (every service authenticates
# through it and the fuzzer signs up there), whether or not it is fuzzed.
if [ "$#" -gt 0 ]; then FUZZ=("$@"); else mapfile -t FUZZ < <(existing_services); fi
[ "${#FUZZ[@]}" -gt 0 ] || die "no services to fuzz"
SERVICES=(identity)
for name in "${FUZZ[@]}"; do [ "$name" = identity ] || SERVICES+=("$name"); done

ensure_schemathesis() {
  if [ "$("$VENV/bin/schemathesis" --version 2>/dev/null)" = "schemathesis, version $SCHEMATHESIS_VERSION" ] &&
    [ "$("$VENV/bin/pip" show openapi-spec-validator 2>/dev/null | sed -n 's/^Version: //p')" = "$SPEC_VALIDATOR_VERSION" ]; then
    return 0
  fi
  log "installing schemathesis $SCHEMATHESIS_VERSION and openapi-spec-validator $SPEC_VALIDATOR_VERSION into .run/fuzz-venv"
  command -v python3 >/dev/null || apt_install python3
  rm -rf "$VENV"
  # Debian ships venv's pip bootstrap separately (python3-venv).
  python3 -m venv "$VENV" 2>/dev/null || { rm -rf "$VENV"; apt_install python3-venv; python3 -m venv "$VENV"; }
  "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" \
    "openapi-spec-validator==$SPEC_VALIDATOR_VERSION"
}

PIDS=() NAMES=() DATABASES=()
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ "${#PIDS[@]}" -gt 0 ]; then
    kill -TERM "${PIDS[@]}" 2>/dev/null || true
    # Services drain for up to SHUTDOWN_GRACE_SECS (set to 5 below); then they are killed.
    local deadline=$((SECONDS + 10)) pid
    for pid in "${PIDS[@]}"; do
      while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    done
  fi
  local db
  for db in "${DATABASES[@]}"; do psql_admin -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" || true; done
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ensure_postgres
ensure_nats
command -v curl >/dev/null || apt_install curl
ensure_schemathesis

if [ -z "${FUZZ_NO_BUILD:-}" ]; then
  pkgs=()
  for name in "${SERVICES[@]}"; do pkgs+=(-p "$name"); done
  log "cargo build --bins ${pkgs[*]} (debug)"
  cargo build -q --bins "${pkgs[@]}"
fi

rm -rf "$OUT"
mkdir -p "$OUT/attachments"
# The names test.sh's leftover sweeps recognize: databases test_*, streams t<16 hex>_*.
RUN_ID=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
NATS_PREFIX=t$RUN_ID
declare -A HTTP_PORT GRPC_PORT

# The platforms' APIs (inbox-sync's Graph API calls) answer from a local stand-in, started below.
take_port STANDIN_PORT
STANDIN=http://127.0.0.1:$STANDIN_PORT

log "starting ${SERVICES[*]} (NATS prefix $NATS_PREFIX)"
for name in "${SERVICES[@]}"; do
  [ -x "$TARGET_DIR/debug/$name" ] || die "$TARGET_DIR/debug/$name is missing (unset FUZZ_NO_BUILD to build it)"
  db=test_fuzz_${name//-/_}_$RUN_ID
  createdb -h "$PG_HOST" -p "$PG_PORT" -U postgres "$db"
  DATABASES+=("$db")
  take_port "HTTP_PORT[$name]"
  take_port "GRPC_PORT[$name]"
  # SWITCHBOARD_ENV=development: development defaults for the secrets production must set, and
  # DEV_MAILBOX allowed. Loopback webhook targets are allowed, as in run.sh. Argon2 is cheap:
  # the fuzzer signs up and logs in thousands of times against a debug build, and password
  # hashing cost is not what this pass tests. One-hour access tokens outlive the whole pass.
  env \
    SWITCHBOARD_ENV=development \
    SERVICE_TOKEN=fuzz-service-token \
    HTTP_ADDR="127.0.0.1:${HTTP_PORT[$name]}" \
    GRPC_ADDR="127.0.0.1:${GRPC_PORT[$name]}" \
    DATABASE_URL="postgres://postgres@$PG_HOST:$PG_PORT/$db" \
    NATS_URL="nats://$NATS_HOST:$NATS_PORT" \
    NATS_PREFIX="$NATS_PREFIX" \
    IDENTITY_GRPC_URL="http://127.0.0.1:${GRPC_PORT[identity]}" \
    APP_BASE_URL=http://127.0.0.1:8080 \
    ATTACHMENTS_DIR="$OUT/attachments" \
    WEBHOOK_ALLOW_CIDRS=127.0.0.0/8 WEBHOOK_ONLY_ALLOWED_CIDRS=true \
    DEV_MAILBOX=true \
    META_GRAPH_URL="$STANDIN" INSTAGRAM_GRAPH_URL="$STANDIN" \
    STRIPE_WEBHOOK_SECRETS=whsec_fuzz_only_secret \
    TIKTOK_API_URL="$STANDIN" TIKTOK_BUSINESS_API_URL="$STANDIN" \
    ARGON2_MEMORY_KIB=64 \
    ARGON2_ITERATIONS=1 \
    ACCESS_TOKEN_TTL_SECS=3600 \
    SHUTDOWN_GRACE_SECS=5 \
    "$TARGET_DIR/debug/$name" >"$OUT/$name.log" 2>&1 &
  PIDS+=($!) NAMES+=("$name")
done
# After the services, so that PIDS[i] stays SERVICES[i]'s.
"$VENV/bin/python" deploy/fuzz/platform_standin.py "$STANDIN_PORT" >"$OUT/platform-standin.log" 2>&1 &
PIDS+=($!) NAMES+=(platform-standin)

ready() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$1/readyz" 2>/dev/null; }
for i in "${!SERVICES[@]}"; do
  name=${SERVICES[$i]}
  deadline=$((SECONDS + 90))
  until ready "${HTTP_PORT[$name]}"; do
    if ! kill -0 "${PIDS[$i]}" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 40 "$OUT/$name.log" >&2 || true
      die "$name did not become ready on :${HTTP_PORT[$name]}"
    fi
    sleep 0.5
  done
  echo "$name ready on http://127.0.0.1:${HTTP_PORT[$name]}"
done

log "signing up the fuzzer (owner of a fresh organization)"
signup=$(curl -fsS --max-time 30 "http://127.0.0.1:${HTTP_PORT[identity]}/v1/auth/signup" \
  -H 'content-type: application/json' \
  -d '{"email":"fuzzer@example.com","password":"correct horse battery staple","name":"Fuzzer","organization_name":"Fuzz"}') ||
  die "signup failed (identity log: $OUT/identity.log)"
TOKEN=$("$VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["access_token"])' <<<"$signup")

# exclusions NAME: operations that would destroy the fuzzer's own credentials; calling them ends
# the session every later request authenticates with, so the rest of the pass would only see
# 401s. Everything else is fuzzed.
exclusions() {
  case $1 in
    # POST /v1/auth/logout revokes the calling session; DELETE /v1/sessions/{id} may be given
    # the fuzzer's own session id (listed by GET /v1/sessions) by the stateful phase.
    identity) echo "--exclude-path-regex=^/v1/(auth/logout|sessions/\{[^}]+\})$" ;;
  esac
}

FAILED_SERVICES=()
for i in "${!SERVICES[@]}"; do
  name=${SERVICES[$i]}
  [[ " ${FUZZ[*]} " == *" $name "* ]] || continue
  log "openapi-spec-validator: $name"
  if ! curl -fsS --max-time 30 -o "$OUT/$name.openapi.json" "http://127.0.0.1:${HTTP_PORT[$name]}/openapi.json" ||
    ! "$VENV/bin/openapi-spec-validator" --validation-errors all "$OUT/$name.openapi.json"; then
    echo "$name: its OpenAPI document is not valid"
    FAILED_SERVICES+=("$name")
    continue
  fi
  log "schemathesis: $name (seed $SEED, $MAX_EXAMPLES examples per operation)"
  mapfile -t extra < <(exclusions "$name")
  read -r -a user_args <<<"${FUZZ_ARGS:-}"
  started=$SECONDS
  # --generation-database=none: no examples remembered from earlier runs, so the seed alone
  # decides what is sent. --generation-allow-x00=false: every service refuses U+0000 in any
  # string (422, platform extractors; tested there), a rule the documents do not spell out as a
  # pattern on every string. No --max-response-time: debug builds on a shared CI machine are
  # slow, and latency is measured by the benchmarks, not here. FUZZ_ARGS adds arguments (e.g.
  # `--include-path-regex ^/v1/teams`) when fuzzing by hand.
  # deploy/fuzz/: which refusals of valid-looking data are state-dependent (schemathesis.toml),
  # and a fresh Idempotency-Key per valid request (hooks.py).
  if SCHEMATHESIS_HOOKS=$ROOT/deploy/fuzz/hooks.py timeout "$SERVICE_TIMEOUT" "$VENV/bin/schemathesis" \
    --config-file deploy/fuzz/schemathesis.toml run \
    "http://127.0.0.1:${HTTP_PORT[$name]}/openapi.json" \
    --checks all \
    -H "Authorization: Bearer $TOKEN" \
    --seed "$SEED" \
    --max-examples "$MAX_EXAMPLES" \
    --workers 1 \
    --generation-database=none \
    --request-timeout 30 \
    --generation-allow-x00=false \
    --no-color \
    --report junit --report-junit-path "$OUT/$name.junit.xml" \
    "${extra[@]}" "${user_args[@]}"; then
    echo "$name: passed in $((SECONDS - started)) s"
  else
    echo "$name: FAILED after $((SECONDS - started)) s (service log: $OUT/$name.log)"
    FAILED_SERVICES+=("$name")
  fi
  if ! kill -0 "${PIDS[$i]}" 2>/dev/null; then
    echo "$name exited during the pass; last lines of its log:"
    tail -n 40 "$OUT/$name.log" || true
    FAILED_SERVICES+=("$name")
  fi
done

if [ "${#FAILED_SERVICES[@]}" -gt 0 ]; then
  die "fuzzing failed: ${FAILED_SERVICES[*]}"
fi
log "fuzzing: every service passed"
