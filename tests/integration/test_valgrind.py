"""valgrind memcheck on an integration scenario: the agent (API side, IMDS, node state, correlator,
checkpoint, writer, metrics endpoint) through a relist after a 410, malformed objects, a token
rotation, an IMDS token expiry and spot notice, a drain report and a stop. No error, no definite leak.
(eBPF is off here: valgrind does not model the bpf() syscall's attribute unions; the kernel side runs
under AddressSanitizer instead, in the sanitizer pass of the suite.)"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakeapi"))
from agent import REQUIRE, Agent, sanitized  # noqa: E402
from imds import IMDS  # noqa: E402
from kubeapi import KubeAPI  # noqa: E402

NODE = "vg-node"


class Memcheck(unittest.TestCase):
    def setUp(self):
        if not shutil.which("valgrind"):
            if REQUIRE:
                raise AssertionError("REQUIRE_BPF=1 but valgrind is not installed (Debian: valgrind)")
            self.skipTest("valgrind not installed")
        self.dir = tempfile.mkdtemp(prefix="nodetrail-valgrind-")
        self.api = KubeAPI(self.dir, bookmark_interval=0.5)
        self.imds = IMDS()
        self.api.upsert("nodes", {"metadata": {"name": NODE}, "spec": {}, "status": {}})
        for i in range(5):
            self.api.upsert("pods", {"metadata": {"name": f"p{i}", "namespace": "shop", "uid": f"uid-{i}"},
                                     "spec": {"nodeName": NODE, "containers": [{"name": "app"}]},
                                     "status": {"phase": "Running", "containerStatuses": [
                                         {"name": "app", "containerID": "containerd://" + f"{i}" * 64,
                                          "restartCount": 0, "state": {"running": {}}}]}})

    def tearDown(self):
        self.api.close()
        self.imds.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_memcheck_clean(self):
        agent = Agent("--bpf", "off", "--api", "on", "--api-server", self.api.url, "--token-file",
                      self.api.token_file, "--ca-file", self.api.ca_file, "--imds", "on", "--imds-endpoint",
                      self.imds.url, "--imds-poll", "1", "--metrics-addr", "127.0.0.1:0", "--checkpoint-interval",
                      "1", "--status-interval", "2", node=NODE)
        log = os.path.join(agent.tmp, "valgrind.log")
        if sanitized(agent.args[0]):
            # the sanitizer pass: valgrind cannot run an ASan binary; check the plain build again
            agent.args[0] = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "nodetrail")
        agent.args = ["valgrind", "--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite",
                      "--show-leak-kinds=definite", f"--log-file={log}"] + agent.args
        agent.start(timeout=60)
        agent.wait_for(lambda r: r["type"] == "agent.status" and r["agent"]["api"].get("synced"), timeout=60,
                       what="synced")
        # a container restarts (API only: eBPF is off), a pod goes, objects that do not decode, a 410
        self.api.upsert("pods", {"metadata": {"name": "p0", "namespace": "shop", "uid": "uid-0"},
                                 "spec": {"nodeName": NODE, "containers": [{"name": "app"}]},
                                 "status": {"phase": "Running", "containerStatuses": [
                                     {"name": "app", "containerID": "containerd://" + "a" * 64, "restartCount": 1,
                                      "state": {"running": {}}, "lastState": {"terminated": {
                                          "exitCode": 1, "reason": "Error", "containerID": "containerd://" + "0" * 64,
                                          "finishedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}}}]}})
        self.api.delete("pods", "shop", "p1")
        self.api.inject_raw("pods", b'{"type":"MODIFIED","object":{"metadata":{"uid":\n')
        self.api.inject_raw("pods", b'{"type":"MODIFIED","object":[1,2,3]}\n')
        self.api.expire_watches()
        self.api.rotate_token()
        self.imds.expire_tokens()
        self.imds.set_spot_action("terminate", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 6)))
        agent.wait_for(lambda r: r["type"] == "node.drain_report", timeout=60, what="the drain report")
        agent.wait_for(lambda r: r["type"] == "container.exited", timeout=30, what="the API-only exit")
        port = int(re.search(r"\(port (\d+)\)", agent.log()).group(1))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            self.assertEqual(r.status, 200)
        rc, _ = agent.stop(timeout=60)
        with open(log) as f:
            report = f.read()
        self.assertEqual(rc, 0, report[-3000:])
        self.assertIn("ERROR SUMMARY: 0 errors", report, report[-3000:])
        self.assertRegex(report, r"definitely lost: 0 bytes|no leaks are possible")


if __name__ == "__main__":
    unittest.main()
