"""Checks one raw HTTP response (stdin) from the edge; used by deploy/tests/edge.sh.

problem STATUS [ID]: STATUS with an application/problem+json body (type, title, status, detail,
request_id) whose request_id equals the one X-Request-Id header (and ID, the client's, if given).
forwarded [ID]: a 200 from the stand-in service, whose X-Request-Id equals the one id the service
received (and ID if given; else one the edge minted: 32 hex digits).
"""
import json
import sys


def parse(raw):
    # curl -i may print interim responses (100 Continue) first: keep the last one.
    text = raw.decode("latin-1").replace("\r\n", "\n")
    while text.startswith("HTTP/1.1 100"):
        text = text.partition("\n\n")[2]
    head, _, body = text.partition("\n\n")
    lines = head.split("\n")
    code = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    headers = [line.split(":", 1) for line in lines[1:] if ":" in line]
    return code, headers, body


def values(headers, name):
    return [v.strip() for k, v in headers if k.strip().lower() == name]


def problem(code, headers, body, want, want_id):
    problems = []
    if code != want:
        problems.append(f"status {code}, expected {want}")
    content_type = values(headers, "content-type")
    if content_type != ["application/problem+json"]:
        problems.append(f"content-type {content_type}")
    ids = values(headers, "x-request-id")
    try:
        doc = json.loads(body)
    except ValueError as e:
        return problems + [f"body is not JSON ({e})"]
    for key in ("type", "title", "status", "detail", "request_id"):
        if key not in doc:
            problems.append(f"body lacks {key}")
    if doc.get("status") != want:
        problems.append(f"body status {doc.get('status')}")
    if not str(doc.get("type", "")).startswith("https://switchboard.dev/problems/"):
        problems.append(f"type {doc.get('type')!r} is not ours")
    if ids != [doc.get("request_id")]:
        problems.append(f"X-Request-Id {ids} != body request_id {doc.get('request_id')!r}")
    if want_id and ids != [want_id]:
        problems.append(f"X-Request-Id {ids}, expected [{want_id!r}]")
    if want in (502, 503, 504) and not values(headers, "retry-after"):
        problems.append("no Retry-After")
    if want == 405 and not values(headers, "allow"):
        problems.append("no Allow")
    return problems


def forwarded(code, headers, body, want_id):
    if code != 200:
        return [f"status {code}, expected 200 from the stand-in"]
    doc = json.loads(body)
    ids = values(headers, "x-request-id")
    problems = []
    if doc["x_request_id_count"] != 1:
        problems.append(f"the service received {doc['x_request_id_count']} X-Request-Id headers")
    if ids != [doc["x_request_id"]]:
        problems.append(f"returned X-Request-Id {ids}, the service received {doc['x_request_id']!r}")
    if want_id and ids != [want_id]:
        problems.append(f"X-Request-Id {ids}, the client sent {want_id!r}")
    if not want_id and not (len(ids) == 1 and len(ids[0]) == 32):
        problems.append(f"X-Request-Id {ids} is not one the edge minted")
    return problems


def main():
    raw = sys.stdin.buffer.read()
    code, headers, body = parse(raw)
    mode = sys.argv[1]
    if mode == "problem":
        want_id = sys.argv[3] if len(sys.argv) > 3 else ""
        problems = problem(code, headers, body, int(sys.argv[2]), want_id)
    else:
        problems = forwarded(code, headers, body, sys.argv[2] if len(sys.argv) > 2 else "")
    if problems:
        print("; ".join(problems))
        print(raw[:600].decode("latin-1"))
        sys.exit(1)


main()
