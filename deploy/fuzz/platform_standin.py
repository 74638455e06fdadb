"""A stand-in for the platforms' APIs during the fuzz pass (deploy/fuzz.sh): no request leaves
the machine. Meta's Graph API refuses every token as it does an invalid one (code 190), so a
fuzzed connect is the 422 a real refusal gives; sends are refused the same way.
Usage: python3 platform_standin.py PORT"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REFUSAL = {"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}}


class Handler(BaseHTTPRequestHandler):
    def _refuse(self):
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps(REFUSAL).encode()
        self.send_response(401)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _refuse
    do_POST = _refuse

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
