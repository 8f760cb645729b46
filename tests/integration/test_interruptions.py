"""Interruptions as real EKS nodes see them, on the real kernel with runc containers: a Karpenter
consolidation that is cancelled, then a real spot interruption during which the kubelet evicts a pod
for memory pressure; and a scheduled maintenance three weeks out. Each interruption opens, is
updated and ends with one record per transition; a pod's own cause holds; the drain reports say
which kind of interruption they were."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakeapi"))
import containers  # noqa: E402
from test_drain import DrainBase, NODE  # noqa: E402

KARPENTER_TAINT = {"key": "karpenter.sh/disrupted", "effect": "NoSchedule"}
RFC3339 = "%Y-%m-%dT%H:%M:%SZ"


def stamp(t):
    return time.strftime(RFC3339, time.gmtime(t))


def body(r):
    """a node.interruption's detail: under `imds` while IMDS claims it, else under `api`"""
    return r.get("imds") or r.get("api") or {}


def transition(r, what):
    return r["type"] == "node.interruption" and body(r).get("transition") == what


class Interruptions(DrainBase):
    def node(self, taints):
        self.api.upsert("nodes", {"metadata": {"name": NODE}, "spec": {"taints": taints}, "status": {}})

    def event(self, name, reason, message, component):
        self.api.upsert("events", {"metadata": {"name": f"{NODE}.{name}", "namespace": "default", "uid": f"ev-{name}"},
                                   "involvedObject": {"kind": "Node", "name": NODE}, "reason": reason,
                                   "type": "Normal", "message": message, "source": {"component": component},
                                   "count": 1, "firstTimestamp": stamp(time.time())})

    def evict(self, c, name, status=None):
        """The Eviction API (a drainer), or the kubelet (status given): the pod's own say, then its end."""
        meta = {"name": name, "namespace": "shop", "uid": c.pod_uid}
        spec = {"nodeName": NODE, "containers": [{"name": "app"}]}
        if status is None:
            meta["deletionTimestamp"] = stamp(time.time())
            status = {"phase": "Running", "conditions": [{"type": "DisruptionTarget", "status": "True",
                                                          "reason": "EvictionByEvictionAPI",
                                                          "message": "Eviction API: evicting"}]}
        self.api.upsert("pods", {"metadata": meta, "spec": spec, "status": status})
        c.kill("TERM")
        if "deletionTimestamp" in meta:
            time.sleep(0.3)
            self.api.delete("pods", "shop", name)

    def interruptions(self):
        return [r for r in self.agent.records() if r["type"] == "node.interruption"]

    def test_consolidation_cancelled_then_spot(self):
        a = self.pod("web-a", "trap 'exit 0' TERM; while true; do sleep 0.2; done")
        b = self.pod("web-b", "trap 'exit 0' TERM; while true; do sleep 0.2; done")
        self.pod("web-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done")
        time.sleep(1.5)
        # Karpenter consolidates: its taint, its event's reason, one pod drained through the Eviction API
        self.node([KARPENTER_TAINT])
        opened = self.agent.wait_for(lambda r: transition(r, "opened"), timeout=5, what="disruption opened")
        self.assertEqual(opened["api"]["kind"], "karpenter_disruption")
        self.assertNotIn("deadline", opened["api"])
        self.event("consolidate", "DisruptionTerminating", "Disrupting Node: Underutilized", "karpenter")
        self.agent.wait_for(lambda r: r["type"] == "node.interruption" and body(r).get("reason") == "Underutilized",
                            timeout=5, what="the disruption's reason")
        self.evict(a, "web-a")
        t = self.agent.wait_for(lambda r: r["type"] == "pod.terminated" and r["pod"]["name"] == "web-a",
                                timeout=10, what="web-a terminated")
        self.assertEqual(t["api"]["cause"], "karpenter_disruption")
        self.assertEqual(t["api"]["drained_by"], "evicted")
        # cancelled: the taint goes; the disruption ends, and its drain report says what it drained
        self.node([])
        ended = self.agent.wait_for(lambda r: transition(r, "ended"), timeout=5, what="disruption ended")
        self.assertEqual(ended["api"]["ended"], "withdrawn")
        self.assertIn("(Underutilized) ended, withdrawn: the taint karpenter.sh/disrupted was removed", ended["summary"])
        d = self.agent.wait_for(lambda r: r["type"] == "node.drain_report", timeout=5, what="the disruption's report")
        self.assertEqual(d["drain"]["kind"], "karpenter_disruption")
        self.assertEqual(d["drain"]["reason"], "Underutilized")
        self.assertEqual(d["drain"]["reported"], "when it was withdrawn")
        self.assertTrue(d["summary"].startswith("Karpenter disruption drain of node"), d["summary"])
        mine, _ = self.own(d["drain"])
        self.assertEqual(mine["web-a"]["verdict"], "graceful")

        # a real spot interruption; the kubelet evicts web-b for memory pressure meanwhile
        deadline = time.time() + 8
        self.imds.set_spot_action("terminate", stamp(deadline))
        spot = self.agent.wait_for(lambda r: transition(r, "opened") and "imds" in r, timeout=5,
                                   what="spot interruption opened")
        self.assertEqual(spot["imds"]["kind"], "spot_interruption")
        self.assertTrue(spot["imds"]["confirmed"])
        self.evict(b, "web-b", {"phase": "Failed", "reason": "Evicted",
                                "message": "The node was low on resource: memory. Threshold quantity: 100Mi, "
                                           "available: 90Mi. ",
                                "conditions": [{"type": "DisruptionTarget", "status": "True",
                                                "reason": "TerminationByKubelet"}]})
        t = self.agent.wait_for(lambda r: r["type"] == "pod.terminated" and r["pod"]["name"] == "web-b",
                                timeout=10, what="web-b terminated")
        self.assertEqual(t["api"]["cause"], "evicted")
        self.assertEqual(t["api"]["during_interruption"]["kind"], "spot_interruption")
        self.assertIn("during a spot interruption", t["summary"])
        d = self.agent.wait_for(lambda r: r["type"] == "node.drain_report" and r["drain"].get("kind") == "spot_interruption"
                                and r["drain"]["final"],
                                timeout=20, what="the spot interruption's report")
        self.assertEqual(d["drain"]["reported"], "at the deadline")
        self.assertTrue(d["summary"].startswith("spot interruption drain of node"), d["summary"])
        ints = self.interruptions()
        self.assertEqual([body(i)["transition"] for i in ints],
                         ["opened", "updated", "ended", "opened"], [i["summary"] for i in ints])

    def test_maintenance_three_weeks_out(self):
        not_before = time.gmtime(time.time() + 21 * 86400)
        self.imds.maintenance = [{"Code": "system-reboot", "Description": "scheduled reboot",
                                  "EventId": "instance-event-0d59937288b749b32",
                                  "NotBefore": time.strftime("%d %b %Y %H:%M:%S GMT", not_before),
                                  "NotAfter": time.strftime("%d %b %Y %H:%M:%S GMT", not_before),
                                  "State": "active"}]
        risk = self.agent.wait_for(lambda r: r["type"] == "node.interruption", timeout=6, what="the maintenance risk")
        self.assertEqual(risk["imds"]["transition"], "risk")
        self.assertIn("scheduled maintenance system-reboot", risk["summary"])
        self.assertIn("(a risk, not an interruption)", risk["summary"])
        time.sleep(3)  # polled every second: still one record, nothing open, no drain report
        recs = self.agent.records()
        self.assertEqual(len([r for r in recs if r["type"] == "node.interruption"]), 1)
        self.assertFalse([r for r in recs if r["type"] == "node.drain_report"])
        self.imds.maintenance[0]["State"] = "canceled"
        time.sleep(2)
        self.assertEqual(len(self.interruptions()), 1)


if __name__ == "__main__":
    unittest.main()
