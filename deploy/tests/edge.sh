#!/usr/bin/env bash
# The edge's own errors, tested against the real nginx with the config run.sh renders: every error
# nginx makes itself (400, 404, 405, 413, 414, 431, 501, 502, 505) must be application/problem+json
# with type, title, status, detail and a request id equal to the X-Request-Id header, and the id
# the edge returns must be the one it forwards to the service. No service runs: one upstream is a
# stand-in that echoes the X-Request-Id it received, the others point at ports nothing listens on.
# Also checks the compose edge config with `nginx -t`. Run by deploy/test.sh; needs no build.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$ROOT"

ensure_nginx
command -v curl >/dev/null || apt_install curl
command -v python3 >/dev/null || apt_install python3
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

DIR=$(mktemp -d)
chmod 755 "$DIR" # nginx workers run as nobody when started by root
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$DIR"
}
trap cleanup EXIT

# The stand-in service: answers every method with 200 and the X-Request-Id it was sent (in the
# body, and in its own X-Request-Id header, as the services do). Port 0: the OS picks a free one.
python3 - "$DIR/echo.port" <<'EOF' >"$DIR/echo.log" 2>&1 &
import http.server, json, sys
class Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def answer(self):
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        rid = self.headers.get("x-request-id", "")
        body = json.dumps({"x_request_id": rid, "x_request_id_count": len(self.headers.get_all("x-request-id") or [])}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("x-request-id", rid)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = answer
server = http.server.HTTPServer(("127.0.0.1", 0), Echo)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
server.serve_forever()
EOF
PIDS+=($!)
wait_until 10 "the stand-in upstream" test -s "$DIR/echo.port"
ECHO_PORT=$(cat "$DIR/echo.port")

# identity is the stand-in; every other service that exists points at a port nothing listens on.
mapfile -t SERVICES < <(existing_services)
ports=()
for name in "${SERVICES[@]}"; do
  if [ "$name" = identity ]; then
    ports+=("identity=$ECHO_PORT")
  else
    take_port port
    ports+=("$name=$port")
  fi
done
take_port EDGE_PORT
render_edge_conf "$DIR" "127.0.0.1:$EDGE_PORT" "${ports[@]}"
"$NGINX" -t -q -p "$DIR/" -e "$DIR/logs/edge-error.log" -c nginx.conf
"$NGINX" -p "$DIR/" -e "$DIR/logs/edge-error.log" -c nginx.conf &
PIDS+=($!)
wait_until 10 "the edge on :$EDGE_PORT" port_open 127.0.0.1 "$EDGE_PORT"
EDGE=http://127.0.0.1:$EDGE_PORT

# Checks run at the end of pipelines (in subshells), so failures are counted in a file.
: >"$DIR/failed"
# check NAME STATUS [ID]: the response on stdin must be STATUS as a problem (edge_check.py).
check() {
  local name=$1 status=$2 id=${3:-}
  if python3 deploy/tests/edge_check.py problem "$status" "$id" >"$DIR/check.out" 2>&1; then
    echo "ok   $name -> $status"
  else
    echo "FAIL $name -> expected $status: $(cat "$DIR/check.out")"
    echo "$name" >>"$DIR/failed"
  fi
}

# req CURL_ARGS...: the whole response (status line, headers, body); a failed transfer prints what
# arrived and lets check() report it, instead of ending the script (set -e, pipefail).
req() { curl -sS -i --max-time 10 "$@" || true; }
# raw REQUEST: send bytes as they are (curl would refuse or fix most of these) and print the answer.
# shellcheck disable=SC2016 # $1 is expanded by the inner bash, on purpose
raw() {
  timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$EDGE_PORT"'; printf "%b" "$1" >&3; cat <&3' _ "$1" || true
}

log "edge errors answered by nginx itself"
req "$EDGE/no/such/prefix" | check "unknown prefix" 404
req "$EDGE/v1" | check "bare /v1" 404
req -H "X-Request-Id: client-id-42" "$EDGE/nope" | check "client request id kept" 404 client-id-42
req -H 'X-Request-Id: has"quote' "$EDGE/nope" | check "unsafe request id replaced" 404
req -X TRACE "$EDGE/v1/me" | check "TRACE" 405
req -X PROPFIND "$EDGE/v1/me" | check "unknown method" 405
req -X POST -H 'content-type: application/json' -d '{}' "$EDGE/v1/feedback" | check "upstream down (POST)" 502
req "$EDGE/v1/feedback" | check "upstream down (GET)" 502
req "$EDGE/v1/me?q=$(head -c 9000 /dev/zero | tr '\0' a)" | check "URI over 8 KiB" 414
req -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' a)" "$EDGE/v1/me" | check "header over 8 KiB" 431
raw 'POST /v1/me HTTP/1.1\r\nHost: edge\r\nContent-Length: 30000000\r\nConnection: close\r\n\r\n' | check "body over 25 MiB" 413
raw 'GARBAGE\r\n\r\n' | check "unparsable request line" 400
raw 'get /v1/me HTTP/1.1\r\nHost: edge\r\n\r\n' | check "lowercase method" 400
raw 'GET /v1/me HTTP/1.1\r\nConnection: close\r\n\r\n' | check "HTTP/1.1 without Host" 400
raw 'GET /v1/me HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n' | check "two Host headers" 400
raw 'GET /v1/me HTTP/1.1\r\nHost: edge\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n' | check "two Content-Lengths" 400
raw 'POST /v1/me HTTP/1.1\r\nHost: edge\r\nTransfer-Encoding: gzip\r\n\r\n' | check "unknown Transfer-Encoding" 501
raw 'GET /v1/me HTTP/2.0\r\nHost: edge\r\n\r\n' | check "HTTP/2.0 request line" 505

log "request ids through the edge (stand-in service)"
# expect_forwarded NAME [CLIENT_ID]: the id returned is the one the service got (edge_check.py).
expect_forwarded() {
  local name=$1 client=${2:-}
  local args=("$EDGE/v1/me")
  [ -z "$client" ] || args+=(-H "X-Request-Id: $client")
  if req "${args[@]}" | python3 deploy/tests/edge_check.py forwarded "$client" >"$DIR/check.out" 2>&1; then
    echo "ok   $name"
  else
    echo "FAIL $name: $(cat "$DIR/check.out")"
    echo "$name" >>"$DIR/failed"
  fi
}
expect_forwarded "edge mints an id, forwards it and returns it"
expect_forwarded "client id forwarded and returned" "req-7f3a:client.1"

log "nginx -t of the compose edge config"
mkdir -p "$DIR/compose"
cp deploy/nginx/edge.compose.conf deploy/nginx/edge-errors.conf "$DIR/compose/"
printf 'pid nginx.pid;\nerror_log stderr;\nevents {}\nhttp {\n  include edge.compose.conf;\n}\n' >"$DIR/compose/nginx.conf"
if "$NGINX" -t -q -p "$DIR/compose/" -e "$DIR/compose/error.log" -c nginx.conf; then
  echo "ok   edge.compose.conf"
else
  echo "FAIL edge.compose.conf does not pass nginx -t"
  echo "edge.compose.conf" >>"$DIR/failed"
fi

if [ -s "$DIR/failed" ]; then
  echo "edge log:" >&2
  tail -n 20 "$DIR/logs/edge-error.log" >&2 || true
  die "edge checks failed: $(paste -sd, "$DIR/failed")"
fi
log "edge: all checks passed"
