"""A spot interruption drains the node: three pods, one stops gracefully on SIGTERM, one ignores
it and is SIGKILLed, one is still running at the deadline. The drain report says so, per pod."""
import os
import signal
import shutil
import sys
import tempfile
import time
import unittest
from collections import Counter

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakeapi"))
import containers  # noqa: E402
from agent import Agent, require_real_kernel  # noqa: E402
from imds import IMDS  # noqa: E402
from kubeapi import KubeAPI  # noqa: E402

NODE = "ip-10-0-1-23.ec2.internal"


class DrainBase(unittest.TestCase):
    """A node with the stand-in API server and IMDS, and the agent watching it."""

    def setUp(self):
        require_real_kernel(self.skipTest)
        containers.kubelet_roots()
        self.rootfs = containers.Rootfs()
        self.dir = tempfile.mkdtemp(prefix="nodetrail-drain-")
        self.api = KubeAPI(self.dir, bookmark_interval=0.5)
        self.imds = IMDS()
        self.api.upsert("nodes", {"metadata": {"name": NODE}, "spec": {}, "status": {}})
        self.agent = Agent("--api", "on", "--api-server", self.api.url, "--token-file", self.api.token_file,
                           "--ca-file", self.api.ca_file, "--imds", "on", "--imds-endpoint", self.imds.url,
                           "--imds-poll", "1", "--join-window", "1000", node=NODE).start()
        self.cs = []

    def tearDown(self):
        if self.agent.proc.poll() is None:
            self.agent.stop()
        for c in self.cs:
            c.remove()
        self.api.close()
        self.imds.close()
        self.rootfs.remove()
        shutil.rmtree(self.dir, ignore_errors=True)

    def pod(self, name, script):
        c = containers.Container(self.rootfs, ["sh", "-c", script])
        self.cs.append(c)
        self.api.upsert("pods", {"metadata": {"name": name, "namespace": "shop", "uid": c.pod_uid},
                                 "spec": {"nodeName": NODE, "containers": [{"name": "app"}]},
                                 "status": {"phase": "Running", "containerStatuses": [
                                     {"name": "app", "containerID": "containerd://" + c.id, "state": {"running": {}}}]}})
        return c.start()

    def own(self, d):
        """This test's pods of a drain report (by name), and their containers' verdicts counted;
        another container on the node may be in the report too, and is not this test's business.
        The report's totals must add up over all of its pods."""
        mine = {c.pod_uid for c in self.cs}
        every = Counter(c["verdict"] for p in d["by_pod"].values() for c in p["containers"])
        self.assertEqual((d["graceful"], d["still_running"], d["ended_unseen"]),
                         (every["graceful"], every["still_running"], every["ended_unseen"]), d)
        self.assertEqual(d["pods"], len(d["by_pod"]), d)
        pods = {p.get("name"): p for uid, p in d["by_pod"].items() if uid in mine}
        self.assertEqual(len(pods), len(mine), d)
        return ({name: p["containers"][0] for name, p in pods.items()},
                Counter(c["verdict"] for p in pods.values() for c in p["containers"]))


class SpotDrain(DrainBase):
    def test_drain_report(self):
        graceful = self.pod("graceful-1", "trap 'exit 0' TERM; while true; do sleep 0.2; done")
        stubborn = self.pod("stubborn-1", "trap '' TERM; while true; do sleep 0.2; done")
        self.pod("busy-1", "while true; do sleep 0.2; done")
        deadline = time.time() + 10  # slack: the kills must land before it even on a loaded machine
        self.imds.set_spot_action("terminate", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(deadline)))
        self.agent.wait_for(lambda r: r["type"] == "node.interruption", timeout=5, what="node.interruption")
        graceful.kill("TERM")
        stubborn.kill("TERM")
        time.sleep(1.0)
        stubborn.kill("KILL")
        r = self.agent.wait_for(lambda r: r["type"] == "node.drain_report", timeout=20, what="node.drain_report")
        d = r["drain"]
        self.assertEqual(d["reported"], "at the deadline")
        by_name, verdicts = self.own(d)
        self.assertEqual((verdicts["graceful"], verdicts["killed"], verdicts["still_running"]), (1, 1, 1), d)
        self.assertEqual(by_name["graceful-1"]["verdict"], "graceful", d)
        self.assertIn("sigterm_at", by_name["graceful-1"])
        self.assertEqual(by_name["stubborn-1"]["verdict"], "killed", d)
        self.assertIn("sigkill_at", by_name["stubborn-1"])
        # `trap '' TERM`: the kernel ignored its SIGTERM, and says so; the graceful one's was delivered
        self.assertTrue(by_name["stubborn-1"].get("sigterm_ignored"), d)
        self.assertNotIn("sigterm_ignored", by_name["graceful-1"])
        self.assertEqual(by_name["busy-1"]["verdict"], "still_running", d)
        self.assertIn("%d pods, %d container%s stopped gracefully before the deadline, %d killed, %d still running" % (
            d["pods"], d["graceful"], "" if d["graceful"] == 1 else "s", d["killed"], d["still_running"]), r["summary"])


class RestartMidDrain(DrainBase):
    """The agent restarts in the middle of a drain (a rolling update: SIGTERM; a crash: kill -9). The
    next run takes the checkpoint over: one node.interruption, one final drain report at the deadline,
    with the SIGTERMs seen before the restart and the container that ended while the agent was down."""

    def setUp(self):
        super().setUp()
        self.agent.stop()
        self.args = self.agent.args[1:]
        self.agent = Agent(*self.args[self.args.index("--api"):], "--checkpoint-interval", "1",
                           node=NODE, tmp=self.agent.tmp).start()

    def restart_mid_drain(self, sig):
        graceful = self.pod("graceful-1", "trap 'exit 0' TERM; while true; do sleep 0.2; done")
        stubborn = self.pod("stubborn-1", "trap '' TERM; while true; do sleep 0.2; done")
        self.pod("busy-1", "while true; do sleep 0.2; done")
        deadline = time.time() + 14
        self.imds.set_spot_action("terminate", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(deadline)))
        self.agent.wait_for(lambda r: r["type"] == "node.interruption", timeout=5, what="node.interruption")
        graceful.kill("TERM")
        stubborn.kill("TERM")
        self.agent.wait_for(lambda r: r["type"] == "container.exited" and r["container"]["id"] == graceful.id,
                            timeout=5, what="graceful-1 exited")
        time.sleep(2.5)  # a checkpoint after the SIGTERMs
        if sig == signal.SIGKILL:
            self.agent.proc.send_signal(signal.SIGKILL)
            self.agent.proc.wait()
            self.agent.stderr.close()
        else:
            rc, _ = self.agent.stop()
            self.assertEqual(rc, 0)
        stubborn.kill("KILL")  # while the agent is down
        time.sleep(0.5)
        self.agent = Agent(*self.args[self.args.index("--api"):], "--checkpoint-interval", "1",
                           node=NODE, tmp=self.agent.tmp).start()
        r = self.agent.wait_for(lambda r: r["type"] == "node.drain_report" and r["drain"]["final"],
                                timeout=25, what="the final node.drain_report")
        recs = self.agent.records()
        self.assertEqual(len([x for x in recs if x["type"] == "node.interruption"]), 1)
        self.assertEqual(len({x["record_id"] for x in recs}), len(recs), "a record written twice")
        self.assertEqual([x["seq"] for x in recs], list(range(1, len(recs) + 1)))
        snapshots = [x for x in recs if x["type"] == "node.drain_report" and not x["drain"]["final"]]
        self.assertEqual(len(snapshots), 1 if sig == signal.SIGTERM else 0)
        d = r["drain"]
        self.assertEqual(d["reported"], "at the deadline")
        by_name, verdicts = self.own(d)
        self.assertEqual(by_name["graceful-1"]["verdict"], "graceful", d)
        self.assertIn("sigterm_at", by_name["graceful-1"])
        self.assertEqual(by_name["stubborn-1"]["verdict"], "ended_unseen", d)
        self.assertIn("sigterm_at", by_name["stubborn-1"])  # seen before the restart
        self.assertEqual(by_name["busy-1"]["verdict"], "still_running", d)
        self.assertEqual((verdicts["graceful"], verdicts["killed"], verdicts["still_running"],
                          verdicts["ended_unseen"]), (1, 0, 1, 1), d)
        self.assertIn("1 ended while the agent was down", r["summary"])
        started = [x for x in recs if x["type"] == "agent.status" and x["agent"]["state"] == "started"][-1]
        self.assertTrue(started["agent"]["checkpoint"]["restored"].startswith("same boot"), started)

    def test_sigterm_mid_drain(self):
        self.restart_mid_drain(signal.SIGTERM)

    def test_kill_9_mid_drain(self):
        self.restart_mid_drain(signal.SIGKILL)


if __name__ == "__main__":
    unittest.main()
