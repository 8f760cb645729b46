"""The API server down for two minutes, then slow: the agent backs off (it does not hammer a
struggling control plane), keeps running, and once the API answers again reports what changed while
it was away (a pod deleted, an interruption taint), once."""
import os
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakeapi"))
from agent import Agent  # noqa: E402
from kubeapi import KubeAPI  # noqa: E402

NODE = "outage-node"
OUTAGE_S = 125


def pod(name):
    return {"metadata": {"name": name, "namespace": "shop", "uid": "uid-" + name},
            "spec": {"nodeName": NODE, "containers": [{"name": "app"}]}, "status": {"phase": "Running"}}


class ApiOutage(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="nodetrail-outage-")
        self.api = KubeAPI(self.dir, bookmark_interval=0.5)
        self.api.upsert("nodes", {"metadata": {"name": NODE}, "spec": {}, "status": {}})
        self.api.upsert("pods", pod("a"))
        self.api.upsert("pods", pod("b"))
        self.agent = Agent("--bpf", "off", "--imds", "off", "--api", "on", "--api-server", self.api.url,
                           "--token-file", self.api.token_file, "--ca-file", self.api.ca_file,
                           "--status-interval", "1", node=NODE).start()

    def tearDown(self):
        rc, _ = self.agent.stop()
        self.api.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        self.assertEqual(rc, 0)

    def test_down_then_slow(self):
        self.agent.wait_for(lambda r: r["type"] == "agent.status" and r["agent"]["api"].get("synced"), what="synced")
        self.api.down(OUTAGE_S)
        time.sleep(1)
        self.api.delete("pods", "shop", "b")
        node = self.api.objects["nodes"][("", NODE)]
        node["spec"]["taints"] = [{"key": "aws-node-termination-handler/spot-itn", "effect": "NoSchedule"}]
        self.api.upsert("nodes", node)
        time.sleep(OUTAGE_S - 1)
        refused = self.api.counters.get("refused_down", 0)
        # three streams backing off from 0.8 s to 30 s (+-20%): about ten tries each, not thousands
        self.assertGreaterEqual(refused, 3)
        self.assertLessEqual(refused, 45, refused)
        self.api.slow(2)  # and when it comes back, it is slow
        r = self.agent.wait_for(lambda r: r["type"] == "pod.terminated" and r["pod"]["name"] == "b", timeout=45,
                                what="the pod deleted during the outage")
        # resumed from its resourceVersion (the watch replays the deletion), or relisted after a 410
        self.assertIn(r["api"]["observed"], ("deleted", "relist"))
        self.agent.wait_for(lambda r: r["type"] == "node.interruption", timeout=45, what="the taint added meanwhile")
        st = self.agent.wait_for(lambda r: r["type"] == "agent.status" and r["agent"]["api"].get("synced")
                                 and r["agent"]["api"]["streams"]["pods"]["http_errors"] >= 1, timeout=30,
                                 what="synced again, the errors counted")
        self.assertGreaterEqual(st["agent"]["api"]["streams"]["nodes"]["http_errors"], 1)
        recs = self.agent.records()
        self.assertEqual(len({x["record_id"] for x in recs}), len(recs))
        self.assertEqual(len([x for x in recs if x["type"] == "pod.terminated"]), 1)


if __name__ == "__main__":
    unittest.main()
