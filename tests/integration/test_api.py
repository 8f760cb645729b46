"""The agent against a stand-in API server: node-scoped watches, faults survived, nothing lost
or repeated. Runs without eBPF (--bpf off): these are about the API side."""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakeapi"))
from agent import Agent  # noqa: E402
from kubeapi import KubeAPI, make_certs  # noqa: E402

NODE = "ip-10-0-1-23.ec2.internal"


def node_obj(taints=(), ready="True"):
    return {"metadata": {"name": NODE, "labels": {
        "eks.amazonaws.com/capacityType": "SPOT", "eks.amazonaws.com/nodegroup": "ng-spot",
        "node.kubernetes.io/instance-type": "m5.large", "topology.kubernetes.io/zone": "us-east-1a"}},
        "spec": {"taints": list(taints)},
        "status": {"conditions": [{"type": "Ready", "status": ready, "reason": "KubeletReady",
                                   "lastTransitionTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}]}}


def pod_obj(name, node=NODE, status=None, meta=None):
    m = {"name": name, "namespace": "shop", "uid": f"uid-{name}"}
    m.update(meta or {})
    return {"metadata": m, "spec": {"nodeName": node, "terminationGracePeriodSeconds": 30,
                                    "containers": [{"name": "api", "image": "api:1"}]},
            "status": status or {"phase": "Running", "qosClass": "Burstable"}}


def event_obj(name, reason, node=NODE):
    return {"metadata": {"name": name, "namespace": "default", "uid": f"ev-{name}"},
            "involvedObject": {"kind": "Node", "name": node}, "reason": reason, "type": "Warning",
            "message": f"{reason} happened", "source": {"component": "kubelet"}, "count": 1,
            "firstTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


class ApiWatches(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("openssl"):
            raise unittest.SkipTest("openssl CLI missing")
        cls.dir = tempfile.mkdtemp(prefix="nodetrail-fakeapi-")
        cls.api = KubeAPI(cls.dir, bookmark_interval=0.5)
        cls.api.upsert("nodes", node_obj())
        cls.api.upsert("pods", pod_obj("web-1"))
        cls.api.upsert("pods", pod_obj("elsewhere", node="ip-10-0-9-9.ec2.internal"))
        cls.api.upsert("events", event_obj("boot", "Rebooted"))
        cls.agent = Agent("--bpf", "off", "--api", "on", "--api-server", cls.api.url, "--token-file",
                          cls.api.token_file, "--ca-file", cls.api.ca_file, "--api-dead-after", "2",
                          "--status-interval", "1", node=NODE).start()
        cls.wait_synced()

    @classmethod
    def tearDownClass(cls):
        rc, _ = cls.agent.stop()
        cls.api.close()
        shutil.rmtree(cls.dir, ignore_errors=True)
        assert rc == 0, cls.agent.log()[-2000:]

    @classmethod
    def wait_synced(cls):
        cls.agent.wait_for(lambda r: r["type"] == "agent.status" and r["agent"]["api"].get("synced"),
                           timeout=15, what="api synced")

    def status(self):
        return [r for r in self.agent.records() if r["type"] == "agent.status"][-1]["agent"]["api"]

    def wait_status(self, pred, what, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            st = self.status()
            if pred(st):
                return st
            time.sleep(0.2)
        self.fail(f"{what}: {self.status()}\n" + self.agent.log()[-6000:])

    def records(self, rtype):
        return [r for r in self.agent.records() if r["type"] == rtype]

    def test_a_startup_baseline(self):
        # the existing node event is kept; the existing pod and taint-free node are state, not news
        ev = self.agent.wait_for(lambda r: r["type"] == "node.event", what="node.event")
        self.assertEqual(ev["api"]["reason"], "Rebooted")
        self.assertEqual(ev["sources"], ["api"])
        self.assertEqual(ev["CapacityType"], "SPOT")
        self.assertEqual(ev["NodeGroup"], "ng-spot")
        self.assertEqual(ev["InstanceType"], "m5.large")
        st = self.status()
        self.assertEqual(st["mode"], "on")
        self.assertEqual(st["pods"], 1)  # the field selector keeps other nodes' pods away

    def test_b_pod_evicted_through_the_api(self):
        self.api.upsert("pods", pod_obj("evict-me"))
        time.sleep(0.3)
        self.api.upsert("pods", pod_obj("evict-me", meta={"deletionTimestamp": "2026-11-24T10:00:30Z",
                                                          "deletionGracePeriodSeconds": 30},
                                        status={"phase": "Running", "qosClass": "Burstable", "conditions": [
                                            {"type": "DisruptionTarget", "status": "True",
                                             "reason": "EvictionByEvictionAPI",
                                             "message": "Eviction API: evicting"}]}))
        self.api.delete("pods", "shop", "evict-me")
        r = self.agent.wait_for(lambda r: r["type"] == "pod.terminated" and r["pod"]["name"] == "evict-me",
                                what="pod.terminated")
        self.assertEqual(r["api"]["cause"], "evicted")
        self.assertEqual(r["api"]["grace_period_s"], 30)
        self.assertEqual(r["pod"]["namespace"], "shop")

    def test_c_spot_taint_opens_interruption(self):
        self.api.upsert("nodes", node_obj(taints=[{"key": "aws-node-termination-handler/spot-itn",
                                                   "value": "spot-itn-1", "effect": "NoSchedule"}]))
        t = self.agent.wait_for(lambda r: r["type"] == "node.taint", what="node.taint")
        self.assertTrue(t["api"]["interruption"])
        i = self.agent.wait_for(lambda r: r["type"] == "node.interruption", what="node.interruption")
        self.assertEqual(i["api"]["source"], "taint")

    def test_d_410_mid_watch_relists_and_reports_the_gap_once(self):
        self.api.upsert("pods", pod_obj("gap"))
        self.agent.wait_for(lambda r: r["type"] == "agent.status" and r["agent"]["api"]["pods"] >= 2,
                            what="gap pod known")
        before = self.status()["streams"]["pods"]["relists_410"]
        # blackhole the stream, delete during the gap, then expire history and the watch
        self.api.blackhole(1.0)
        self.api.delete("pods", "shop", "gap")
        self.api.compact()
        self.api.expire_watches()
        self.wait_status(lambda st: st["streams"]["pods"]["relists_410"] > before, "no relist after 410")
        r = self.agent.wait_for(lambda r: r["type"] == "pod.terminated" and r["pod"]["name"] == "gap",
                                what="pod.terminated for the gap pod")
        self.assertIn(r["api"]["observed"], ("relist", "deleted"))
        time.sleep(1.5)
        self.assertEqual(len([x for x in self.records("pod.terminated") if x["pod"]["name"] == "gap"]), 1)

    def test_d2_410_as_http_status(self):
        before = self.status()["streams"]["nodes"]["relists_410"]
        self.api.gone_as_http = True
        try:
            # a change the agent does not see (blackholed), history gone, then the watch cut:
            # its resourceVersion is now too old
            self.api.blackhole(1.0)
            self.api.upsert("nodes", node_obj())
            self.api.compact()
            self.api.drop_watches()
            self.wait_status(lambda st: st["streams"]["nodes"]["relists_410"] > before, "no relist after HTTP 410")
        finally:
            self.api.gone_as_http = False

    def test_e_dropped_connections_and_500s(self):
        before = self.status()["streams"]["events"]["reconnects"]
        self.api.fail_next(3, 500)
        self.api.drop_watches()
        self.wait_status(lambda st: st["streams"]["events"]["reconnects"] > before, "no reconnect")
        self.api.upsert("events", event_obj("after-drop", "NodeNotReady"))
        self.agent.wait_for(lambda r: r["type"] == "node.event" and r["api"]["reason"] == "NodeNotReady",
                            timeout=20, what="event after the drop")

    def test_f_blackholed_stream_is_detected(self):
        before = self.status()["streams"]["nodes"]["dead_streams"]
        self.api.blackhole(3)
        self.wait_status(lambda st: st["streams"]["nodes"]["dead_streams"] > before, "dead stream not detected")
        # and the streams come back once the server talks again
        time.sleep(max(0.0, self.api.blackhole_until - time.time()))
        self.api.upsert("events", event_obj("after-blackhole", "NodeHasInsufficientMemory"))
        self.agent.wait_for(lambda r: r["type"] == "node.event" and r["api"]["reason"] == "NodeHasInsufficientMemory",
                            timeout=20, what="event after the blackhole")

    def test_g_malformed_and_oversized_objects_skipped(self):
        st0 = self.status()["streams"]["events"]
        self.api.inject_raw("events", b'{"type":"ADDED","object":{"metadata":\n')
        self.api.inject_raw("events", b'{"type":"ADDED","object":{"pad":"' + b"x" * (5 * 1024 * 1024) + b'"}}\n')
        self.api.upsert("events", event_obj("after-junk", "EvictionThresholdMet"))
        self.agent.wait_for(lambda r: r["type"] == "node.event" and r["api"]["reason"] == "EvictionThresholdMet",
                            timeout=20, what="event after junk")
        st = self.wait_status(lambda st: st["streams"]["events"]["oversized"] > st0["oversized"], "oversized count")
        self.assertGreater(st["streams"]["events"]["malformed"], st0["malformed"])

    def test_h_token_rotation(self):
        # the first stream to reconnect gets the 401 and re-reads the token, for every stream
        def unauthorized(st):
            return sum(s["unauthorized"] for s in st["streams"].values())
        before, reloads = unauthorized(self.status()), self.status()["token_reloads"]
        self.api.rotate_token()
        self.api.drop_watches()
        self.wait_status(lambda st: unauthorized(st) > before and st["token_reloads"] > reloads, "no 401 seen")
        self.api.upsert("pods", pod_obj("after-rotation"))
        self.api.delete("pods", "shop", "after-rotation")
        self.agent.wait_for(lambda r: r["type"] == "pod.terminated" and r["pod"]["name"] == "after-rotation",
                            timeout=20, what="pod after token rotation")
        with open(self.api.token_file) as f:
            self.assertNotIn(f.read().strip(), self.agent.log())

    def test_z_no_duplicates(self):
        recs = [r for r in self.agent.records() if r["type"] != "agent.status"]
        ids = [r["record_id"] for r in recs]
        self.assertEqual(len(ids), len(set(ids)), [r["summary"] for r in recs])
        seqs = [r["seq"] for r in self.agent.records()]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))))


class ApiTlsFailsClosed(unittest.TestCase):
    def test_wrong_ca(self):
        d = tempfile.mkdtemp(prefix="nodetrail-fakeapi-")
        api = KubeAPI(d)
        other = tempfile.mkdtemp(prefix="nodetrail-otherca-")
        wrong_ca, _, _ = make_certs(other)  # a CA that did not sign the server's certificate
        agent = Agent("--bpf", "off", "--api", "on", "--api-server", api.url, "--token-file", api.token_file,
                      "--ca-file", wrong_ca, node=NODE).start()
        try:
            deadline = time.time() + 10
            while time.time() < deadline and "TLS verification of the API server failed" not in agent.log():
                time.sleep(0.1)
            self.assertIn("TLS verification of the API server failed", agent.log())
            self.assertIn("--ca-file", agent.log())
            self.assertEqual(api.counters["list"], {})  # not one request got through
        finally:
            agent.stop()
            api.close()
            shutil.rmtree(d, ignore_errors=True)
            shutil.rmtree(other, ignore_errors=True)

    def test_plain_http_refused(self):
        agent = Agent("--bpf", "off", "--api", "on", "--api-server", "http://127.0.0.1:1", "--token-file",
                      "/dev/null", node=NODE)
        p = subprocess.run(agent.args, capture_output=True, text=True, timeout=10, env=agent.env)
        self.assertEqual(p.returncode, 1)
        self.assertTrue("only https" in p.stderr or "empty" in p.stderr, p.stderr)


if __name__ == "__main__":
    unittest.main()
