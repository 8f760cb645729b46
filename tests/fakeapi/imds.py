"""A stand-in EC2 instance metadata service (IMDSv2) for nodetrail's tests (stdlib only).

Token flow (PUT /latest/api/token with a TTL header, then the token on every GET), 401s for
missing or expired tokens, identity paths, and notices: spot/instance-action (404 when none),
events/recommendations/rebalance (404 when none), events/maintenance/scheduled. Response
bodies come from tests/data/fixtures/imds where a real one exists.
"""
import http.server
import json
import os
import socketserver
import threading
import time
import uuid

FIXTURES = os.path.join(os.environ.get("NODETRAIL_FIXTURES") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "data", "fixtures"), "imds")


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return f.read()


class IMDS:
    def __init__(self, instance_id="i-0abc123def4567890", instance_type="m5.large", zone="us-east-1a",
                 life_cycle="spot", port=0):
        self.tokens = {}  # token -> expiry
        self.meta = {"instance-id": instance_id, "instance-type": instance_type,
                     "placement/availability-zone": zone, "instance-life-cycle": life_cycle}
        self.spot_action = None
        self.rebalance = None
        self.maintenance = []
        self.fail = []      # statuses for the next GETs
        self.fail_put = []  # statuses for the next token requests
        self.delay = 0.0  # seconds before each GET is answered (slow or hanging IMDS)
        self.counters = {"requests": 0, "unauthorized": 0, "tokens": 0}
        self.lock = threading.Lock()
        handler = self._handler()
        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.httpd = socketserver.ThreadingTCPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def set_spot_action(self, action="terminate", when=None):
        when = when or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 120))
        self.spot_action = {"action": action, "time": when}

    def expire_tokens(self):
        with self.lock:
            self.tokens.clear()

    def fail_next(self, n, status=500):
        self.fail.extend([status] * n)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self):
        imds = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, status, body, ctype="text/plain"):
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_PUT(self):
                imds.counters["requests"] += 1
                if self.path != "/latest/api/token":
                    return self.reply(404, fixture("not-found.404.html"), "text/html")
                if imds.fail_put:
                    return self.reply(imds.fail_put.pop(0), "error")
                try:
                    ttl = int(self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", ""))
                except ValueError:
                    ttl = 0
                if not 1 <= ttl <= 21600:
                    return self.reply(400, "Bad Request")
                token = uuid.uuid4().hex
                with imds.lock:
                    imds.tokens[token] = time.time() + ttl
                imds.counters["tokens"] += 1
                self.reply(200, token)

            def do_GET(self):
                imds.counters["requests"] += 1
                if imds.delay:
                    time.sleep(imds.delay)
                if imds.fail:
                    return self.reply(imds.fail.pop(0), "error")
                token = self.headers.get("X-aws-ec2-metadata-token", "")
                with imds.lock:
                    ok = imds.tokens.get(token, 0) > time.time()
                if not ok:
                    imds.counters["unauthorized"] += 1
                    return self.reply(401, fixture("unauthorized.401.html"), "text/html")
                path = self.path.removeprefix("/latest/meta-data/")
                if path in imds.meta:
                    return self.reply(200, imds.meta[path])
                if path == "spot/instance-action" and imds.spot_action:
                    return self.reply(200, json.dumps(imds.spot_action), "application/json")
                if path == "events/recommendations/rebalance" and imds.rebalance:
                    return self.reply(200, json.dumps({"noticeTime": imds.rebalance}), "application/json")
                if path == "events/maintenance/scheduled":
                    return self.reply(200, json.dumps(imds.maintenance), "application/json")
                self.reply(404, fixture("not-found.404.html"), "text/html")

        return Handler
