#!/usr/bin/env bash
# Runs every test: the workspace's tests against a real PostgreSQL and NATS JetStream (DESIGN §8),
# the edge's own error answers against a real nginx, a bounded schemathesis pass against every
# service, then a validation of docker-compose.yml. Every step runs even if an earlier one failed,
# and the script exits non-zero if any did.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

FAILED=()

log "PostgreSQL and NATS (tests use postgres@127.0.0.1:5432 and nats://127.0.0.1:4222)"
ensure_postgres
ensure_nats

# Each test creates its own database named test_<label>_<uuid>; they are dropped here, at the
# start of the next run. Databases still in use are skipped, so a
# test run going on in parallel on this machine is not broken.
log "dropping leftover test databases"
leftovers=()
list=$(psql_admin -c "
  SELECT datname FROM pg_database d
  WHERE datname LIKE 'test\_%'
    AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)")
[ -z "$list" ] || mapfile -t leftovers <<<"$list"
for db in "${leftovers[@]}"; do
  psql_admin -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"
done
echo "dropped ${#leftovers[@]}"

# Tests make two streams each on the shared NATS server; drop those of earlier runs.
log "dropping leftover test streams"
cargo run -q -p loadgen -- cleanup-streams || echo "could not clean up test streams (continuing)"

log "cargo fmt --check"
cargo fmt --all -- --check || FAILED+=(fmt)
log "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings || FAILED+=(clippy)

if cargo nextest --version >/dev/null 2>&1; then
  log "cargo nextest run --workspace --no-fail-fast"
  cargo nextest run --workspace --no-fail-fast || FAILED+=(tests)
else
  log "cargo test --workspace --no-fail-fast (cargo-nextest is not installed)"
  cargo test --workspace --no-fail-fast || FAILED+=(tests)
fi

log "edge: errors nginx answers itself (deploy/tests/edge.sh)"
bash deploy/tests/edge.sh || FAILED+=(edge)

# After the tests on purpose: their build leaves most of the debug binaries' dependencies built.
# Bounded (fixed seed and examples, FUZZ_SERVICE_TIMEOUT_SECS per service) so CI's 90 minutes hold.
log "fuzz: schemathesis against every service (deploy/fuzz.sh)"
bash deploy/fuzz.sh || FAILED+=(fuzz)

# `config -q` parses and interpolates the file without a Docker engine, which catches broken
# YAML, anchors, unknown keys and missing build contexts before anyone runs `up`.
log "docker-compose -f docker-compose.yml config -q"
command -v docker-compose >/dev/null || apt_install docker-compose
docker-compose -f docker-compose.yml config -q || FAILED+=(compose)

if [ "${#FAILED[@]}" -gt 0 ]; then
  log "FAILED: ${FAILED[*]}"
  exit 1
fi
log "all passed"
