"""An agent killed with SIGKILL and started again: seq continues, nothing is written twice."""
import signal
import time
import unittest

import containers
from agent import Agent, require_real_kernel


class Restart(unittest.TestCase):
    def setUp(self):
        require_real_kernel(self.skipTest)
        containers.kubelet_roots()
        self.rootfs = containers.Rootfs()
        self.cs = []

    def tearDown(self):
        for c in self.cs:
            c.remove()
        self.rootfs.remove()

    def run_to_exit(self, agent, code):
        c = containers.Container(self.rootfs, ["sh", "-c", f"exit {code}"]).start()
        self.cs.append(c)
        self.assertTrue(c.wait())
        return agent.wait_for(lambda r: r["type"] == "container.exited" and r["container"]["id"] == c.id,
                              what="container.exited")

    def test_kill_9_then_restart(self):
        first = Agent().start()
        self.run_to_exit(first, 11)
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait()
        first.stderr.close()
        # the second one as if seccomp refused io_uring: same file, plain write(2)
        second = Agent(tmp=first.tmp, env={"NODETRAIL_DISABLE_IO_URING": "1"}).start()
        self.run_to_exit(second, 12)
        rc, _ = second.stop()
        self.assertEqual(rc, 0)
        recs = second.records()
        self.assertEqual([r["seq"] for r in recs], list(range(1, len(recs) + 1)))
        self.assertEqual(len({r["record_id"] for r in recs}), len(recs))
        self.assertEqual([r["kernel"]["exit_code"] for r in recs if r["type"] == "container.exited"], [11, 12])
        starts = [r for r in recs if r["type"] == "agent.status" and r["agent"]["state"] == "started"]
        self.assertEqual(len(starts), 2)
        self.assertEqual([s["agent"]["io"] for s in starts], ["io_uring", "write"])
        self.assertEqual(len(second.files()), 1)  # the same file, appended to


if __name__ == "__main__":
    unittest.main()


class RestartWithApi(unittest.TestCase):
    """A restart relists everything; what was already written is not written again."""

    def setUp(self):
        import os
        import sys
        import tempfile
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakeapi"))
        from kubeapi import KubeAPI
        self.dir = tempfile.mkdtemp(prefix="nodetrail-restart-")
        self.api = KubeAPI(self.dir, bookmark_interval=0.5)
        self.api.upsert("nodes", {"metadata": {"name": "rnode"}, "spec": {}, "status": {}})
        self.api.upsert("events", {"metadata": {"name": "e1", "namespace": "default", "uid": "ev-1"},
                                   "involvedObject": {"kind": "Node", "name": "rnode"}, "reason": "Rebooted",
                                   "type": "Warning", "message": "rebooted", "count": 1})
        self.args = ("--bpf", "off", "--imds", "off", "--api", "on", "--api-server", self.api.url,
                     "--token-file", self.api.token_file, "--ca-file", self.api.ca_file, "--status-interval", "1")

    def tearDown(self):
        import shutil
        self.api.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def events(self, agent):
        return [r for r in agent.records() if r["type"] == "node.event"]

    def test_sigterm_then_kill_9(self):
        first = Agent(*self.args, node="rnode").start()
        first.wait_for(lambda r: r["type"] == "node.event", what="node.event")
        rc, _ = first.stop()
        self.assertEqual(rc, 0)
        second = Agent(*self.args, node="rnode", tmp=first.tmp).start()
        started = [r for r in second.records() if r["type"] == "agent.status" and r["agent"]["state"] == "started"]
        self.assertEqual(started[-1]["agent"]["previous_run"]["stop"], "clean")
        self.assertTrue(started[-1]["agent"]["previous_run"]["same_boot"])
        second.wait_for(lambda r: r["type"] == "agent.status" and r["agent"]["pid"] == second.proc.pid
                        and r["agent"]["api"].get("synced"), what="second agent synced")
        time.sleep(1.0)
        second.proc.send_signal(signal.SIGKILL)
        second.proc.wait()
        second.stderr.close()
        third = Agent(*self.args, node="rnode", tmp=first.tmp).start()
        started = [r for r in third.records() if r["type"] == "agent.status" and r["agent"]["state"] == "started"]
        self.assertEqual(started[-1]["agent"]["previous_run"]["stop"], "unclean")
        st = third.wait_for(lambda r: r["type"] == "agent.status" and r["agent"]["pid"] == third.proc.pid
                            and r["agent"]["api"].get("synced") and r["agent"]["duplicates_suppressed"] >= 1,
                            what="relisted event suppressed")
        self.assertGreaterEqual(st["agent"]["duplicates_suppressed"], 1)
        rc, _ = third.stop()
        self.assertEqual(rc, 0)
        # one node.event across three runs, and seq never reused
        self.assertEqual(len(self.events(third)), 1)
        seqs = [r["seq"] for r in third.records()]
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)))
