"""The agent's /healthz, /readyz and /metrics on --metrics-addr: probes for the kubelet, counters for
Prometheus, read-only, bounded, and never a secret in them."""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakeapi"))
from agent import Agent  # noqa: E402
from kubeapi import KubeAPI  # noqa: E402


def get(port, path, method="GET", host="127.0.0.1"):
    req = urllib.request.Request(f"http://{host}:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def free_port(*hosts):
    """A port free on every one of hosts at once (the DaemonSet's one port on two addresses)."""
    def sock(host):
        return socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)

    for _ in range(50):
        with sock(hosts[0]) as s:
            s.bind((hosts[0], 0))
            port = s.getsockname()[1]
        try:
            for h in hosts[1:]:
                with sock(h) as s:
                    s.bind((h, port))
            return port
        except OSError:
            continue
    raise AssertionError(f"no port free on all of {hosts}")


def error_lines(log):
    return [line for line in log.splitlines() if line.split(" ")[1:2] == ["error"]]


class Metrics(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="nodetrail-metrics-")
        self.api = KubeAPI(self.dir, bookmark_interval=0.5)
        self.api.upsert("nodes", {"metadata": {"name": "mnode"}, "spec": {}, "status": {}})
        self.agent = None

    def tearDown(self):
        if self.agent and self.agent.proc.poll() is None:
            self.agent.stop()
        self.api.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, server, addr="127.0.0.1:0"):
        self.agent = Agent("--bpf", "off", "--imds", "off", "--api", "on", "--api-server", server, "--token-file",
                           self.api.token_file, "--ca-file", self.api.ca_file, "--metrics-addr", addr,
                           node="mnode").start()
        m = re.search(r"/metrics on " + re.escape(addr) + r" \(port (\d+)\)", self.agent.log())
        self.assertIsNotNone(m, self.agent.log())
        return int(m.group(1))

    def test_probes_and_counters(self):
        port = self.start(self.api.url)
        self.assertEqual(get(port, "/healthz"), (200, "ok\n"))
        deadline = time.time() + 10
        while get(port, "/readyz")[0] != 200 and time.time() < deadline:
            time.sleep(0.1)
        self.assertEqual(get(port, "/readyz"), (200, "ready\n"))
        status, text = get(port, "/metrics")
        self.assertEqual(status, 200)
        self.assertRegex(text, r'nodetrail_records_total\{type="agent.status"\} [1-9]')
        self.assertRegex(text, r'nodetrail_api_lists_total\{resource="pods"\} [1-9]')
        self.assertIn('nodetrail_dropped_total{stage="writer"} 0', text)
        self.assertIn("nodetrail_ready 1", text)
        # memory an operator can alert on, and the dedup window's fill against its cap
        rss = int(re.search(r"^nodetrail_resident_memory_bytes (\d+)$", text, re.M).group(1))
        private = int(re.search(r"^nodetrail_private_memory_bytes (\d+)$", text, re.M).group(1))
        self.assertTrue(1 << 20 < private < rss < 64 << 20, (private, rss))
        self.assertIn("nodetrail_dedup_window_cap 65536", text)
        self.assertRegex(text, r"(?m)^nodetrail_dedup_window_ids [1-9]")
        # every sample line is "name{labels} value", every family has HELP and TYPE
        for line in text.splitlines():
            if not line.startswith("#"):
                self.assertRegex(line, r"^nodetrail_[a-z0-9_]+(\{[a-z_]+=\"[^\"]*\"(,[a-z_]+=\"[^\"]*\")*\})? \d+$")
        with open(self.api.token_file) as f:
            self.assertNotIn(f.read().strip(), text)
        # read-only and only these paths
        self.assertEqual(get(port, "/metrics", "POST")[0], 405)
        self.assertEqual(get(port, "/debug")[0], 404)
        # HEAD: the GET's status and Content-Length, and no body (raw: a client may not skip it for us)
        for path in ("/metrics", "/healthz", "/nope"):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
                c.sendall(f"HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                raw = b""
                while chunk := c.recv(65536):
                    raw += chunk
            headers, _, body = raw.partition(b"\r\n\r\n")
            self.assertRegex(headers.decode(), r"^HTTP/1.1 (200|404) ")
            self.assertGreater(int(re.search(rb"Content-Length: (\d+)", headers).group(1)), 0)
            self.assertEqual(body, b"", path)

    def test_not_ready_until_the_api_answers(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = f"https://127.0.0.1:{s.getsockname()[1]}"  # nothing listens once closed
        port = self.start(dead)
        status, body = get(port, "/readyz")
        self.assertEqual(status, 503)
        self.assertIn("first list", body)
        self.assertEqual(get(port, "/healthz")[0], 200)

    def test_repeated_410_backs_off(self):
        # a server whose every watch answers 410 at once (a restarting API server, a proxy): the agent
        # relists after a growing delay, not in a loop that lists all pods as fast as it can
        port = self.start(self.api.url)
        deadline = time.time() + 10
        while get(port, "/readyz")[0] != 200 and time.time() < deadline:
            time.sleep(0.1)
        self.api.always_gone = True
        self.api.drop_watches()
        time.sleep(6)
        text = get(port, "/metrics")[1]
        self.api.always_gone = False
        relists = int(re.search(r'nodetrail_api_relists_410_total\{resource="pods"\} (\d+)', text).group(1))
        # 0.8 s, 1.6 s, 3.2 s after the first immediate relist: 4 or 5 in 6 s (hundreds without the backoff)
        self.assertGreaterEqual(relists, 2, text)
        self.assertLessEqual(relists, 6, text)
        self.assertIn("expired again at once", self.agent.log())

    def test_connections_bounded(self):
        port = self.start(self.api.url)
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(12)]
        time.sleep(0.5)
        # clients that never send a request do not lock the kubelet's probe out: the oldest are evicted
        self.assertEqual(get(port, "/healthz")[0], 200)
        for s in idle:
            s.close()
        time.sleep(0.3)
        status, text = get(port, "/metrics")
        self.assertEqual(status, 200)
        refused = int(re.search(r"nodetrail_metrics_refused_total (\d+)", text).group(1))
        self.assertGreaterEqual(refused, 12 + 1 - 8)

    def test_two_addresses_each_bounded(self):
        # the DaemonSet's metrics component: loopback for the kubelet's probes and the node's address for
        # Prometheus, one port; 127.0.0.2 stands in for the node's address
        port = free_port("127.0.0.1", "127.0.0.2")
        self.assertEqual(self.start(self.api.url, f"127.0.0.1:{port}, 127.0.0.2:{port}"), port)
        for host in ("127.0.0.1", "127.0.0.2"):
            self.assertEqual(get(port, "/healthz", host=host), (200, "ok\n"), host)
            status, text = get(port, "/metrics", host=host)
            self.assertEqual(status, 200, host)
            self.assertIn("nodetrail_metrics_refused_total", text)
        # nothing on the wildcard: exactly the two addresses
        with socket.socket() as s:
            self.assertNotEqual(s.connect_ex(("127.0.0.3", port)), 0)
        # probes in flight on loopback survive a flood of idle clients on the node's address: each address
        # evicts only its own oldest, so a scraper's side never pushes the kubelet's probe out
        probes = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        flood = [socket.create_connection(("127.0.0.2", port)) for _ in range(20)]
        time.sleep(0.5)
        self.assertEqual(get(port, "/healthz", host="127.0.0.2")[0], 200)  # the flooded address still answers
        for c in probes:
            c.settimeout(5)
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            raw = b""
            while chunk := c.recv(65536):
                raw += chunk
            self.assertTrue(raw.startswith(b"HTTP/1.1 200 "), raw)
            c.close()
        for c in flood:
            c.close()
        time.sleep(0.3)
        refused = int(re.search(r"nodetrail_metrics_refused_total (\d+)", get(port, "/metrics")[1]).group(1))
        self.assertGreaterEqual(refused, 20 + 1 - 8)

    def test_ipv6_host_without_brackets(self):
        # status.hostIP on an IPv6 node: "$(HOST_IP):17390" becomes "fd00:...:17390", split at its last colon
        try:
            port = free_port("::1")
        except OSError:
            self.skipTest("no IPv6 loopback here")
        self.start(self.api.url, f"127.0.0.1:0,::1:{port}")
        self.assertEqual(get(port, "/healthz", host="[::1]"), (200, "ok\n"))

    def test_bad_addresses(self):
        # one clear error line naming the address at fault, exit status 1, nothing served
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        self.addCleanup(taken.close)
        cases = [
            ("127.0.0.1:0,localhost:9100", "'localhost:9100': not a numeric IPv4 or IPv6 address"),
            # a HOST_IP defined below NODETRAIL_METRICS_ADDR in env: Kubernetes leaves the text as it is
            ("127.0.0.1:0,$(HOST_IP):17390", "'$(HOST_IP):17390': holds a $(VAR) that Kubernetes did not expand"),
            ("127.0.0.1:0,,127.0.0.2:0", "address 2 of the list is empty"),
            ("127.0.0.1:0,127.0.0.2:0,127.0.0.3:0,127.0.0.4:0", "at most 3 addresses"),
            ("127.0.0.1:65536", "'127.0.0.1:65536': want host:port, [v6]:port or :port"),
            ("127.0.0.1", "'127.0.0.1': want host:port"),
            ("[::1:0", "'[::1:0': want host:port"),
            ("127.0.0.1:0,192.0.2.1:17390", "'192.0.2.1:17390': Cannot assign requested address (not an address of"),
            (f"127.0.0.2:0,127.0.0.1:{taken.getsockname()[1]}",
             f"'127.0.0.1:{taken.getsockname()[1]}': Address already in use"),
        ]
        for addr, needle in cases:
            with self.subTest(addr=addr):
                agent = Agent("--bpf", "off", "--api", "off", "--imds", "off", "--metrics-addr", addr, tmp=self.dir)
                with open(agent.stderr_path, "w") as err:
                    p = subprocess.run(agent.args, stdout=subprocess.DEVNULL, stderr=err, env=agent.env, timeout=20)
                log = agent.log()
                self.assertEqual(p.returncode, 1, log)
                errors = error_lines(log)
                self.assertEqual(len(errors), 1, log)
                self.assertIn("cannot serve /healthz and /metrics: --metrics-addr ", errors[0])
                self.assertIn(needle, errors[0])
                self.assertNotIn("serving /healthz", log)


if __name__ == "__main__":
    unittest.main()
