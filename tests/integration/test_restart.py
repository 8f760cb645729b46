"""An agent killed with SIGKILL and started again: seq continues, nothing is written twice (records in a
file of its own, or on stdout as the runtime stores them)."""
import os
import signal
import time
import unittest

import containers
from agent import Agent, StdoutAgent, require_real_kernel


class Restart(containers.ContainerCase):
    def kill_9_then_restart(self, agent_class, second_env=None):
        """A container exits, the agent is SIGKILLed, a second one starts on what the first left and sees
        another exit: every record once, seq without a gap. The records and the second's start status."""
        first = agent_class().start()
        self.run_to_exit(first, 11)
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait()
        first.reaped()
        second = agent_class(tmp=first.tmp, env=second_env).start()
        self.run_to_exit(second, 12)
        rc, _ = second.stop()
        self.assertEqual(rc, 0)
        recs = second.records()
        self.assertEqual([r["seq"] for r in recs], list(range(1, len(recs) + 1)))
        self.assertEqual(len({r["record_id"] for r in recs}), len(recs))
        self.assertEqual([r["kernel"]["exit_code"] for r in recs if r["type"] == "container.exited"], [11, 12])
        starts = [r for r in recs if r["type"] == "agent.status" and r["agent"]["state"] == "started"]
        self.assertEqual(len(starts), 2)
        self.assertEqual(starts[1]["agent"]["previous_run"]["stop"], "unclean")
        self.assertEqual(starts[1]["agent"]["previous_run"]["last_seq"], starts[1]["seq"] - 1)
        return first, second, starts

    def test_kill_9_then_restart(self):
        # the second one as if seccomp refused io_uring: same file, plain write(2)
        _, second, starts = self.kill_9_then_restart(Agent, {"NODETRAIL_DISABLE_IO_URING": "1"})
        self.assertEqual([s["agent"]["io"] for s in starts], ["io_uring", "write"])
        self.assertEqual(len(second.files()), 1)  # the same file, appended to

    def test_kill_9_then_restart_stdout(self):
        """--output stdout (the CloudWatch add-on's OpenTelemetry mode reads only /var/log/pods): the
        records on the agent's stdout, stored by a stand-in runtime as containerd does, read back from its
        files by the second agent."""
        first, second, _ = self.kill_9_then_restart(StdoutAgent)
        self.assertRegex(second.log(), r"read back 2 of the runtime.s files")  # 0.log, and 1.log just begun
        self.assertEqual(first.bad_stdout + second.bad_stdout, [])  # bare JSON lines only
        self.assertEqual([os.path.basename(p) for p in second.files()], ["0.log", "1.log"])
        self.assertEqual(os.listdir(second.out), [])  # no record file of its own
        # the agent's own log is in the same files, on stderr, never among the records
        with open(second.files()[1]) as f:
            stderr = [line for line in f if " stderr F " in line]
        self.assertTrue(any("records go to stdout" in line for line in stderr), stderr)

    def test_stdout_without_the_runtime_files(self):
        """Nothing mounted at --pod-logs-dir: it runs, and says what that costs."""
        a = StdoutAgent("--bpf", "off", "--pod-logs-dir", "/nonexistent/var/log/pods").start()
        rc, _ = a.stop()
        self.assertEqual(rc, 0)
        self.assertIn("nothing read back from", a.log())
        self.assertIn("mount the host's /var/log/pods read-only", a.log())


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


class RestartWhileDown(unittest.TestCase):
    """A container restarts while the agent is down: the relist after the restart reports the exit from
    the API's status, with sources saying the kernel did not see it, and only once."""

    def setUp(self):
        import os
        import sys
        import tempfile
        require_real_kernel(self.skipTest)
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakeapi"))
        from kubeapi import KubeAPI
        containers.kubelet_roots()
        self.rootfs = containers.Rootfs()
        self.dir = tempfile.mkdtemp(prefix="nodetrail-down-")
        self.api = KubeAPI(self.dir, bookmark_interval=0.5)
        self.api.upsert("nodes", {"metadata": {"name": "dnode"}, "spec": {}, "status": {}})
        self.args = ("--imds", "off", "--api", "on", "--api-server", self.api.url, "--token-file",
                     self.api.token_file, "--ca-file", self.api.ca_file, "--status-interval", "1",
                     "--checkpoint-interval", "1", "--join-window", "1000")
        self.c = None

    def tearDown(self):
        import shutil
        if self.c:
            self.c.remove()
        self.api.close()
        self.rootfs.remove()
        shutil.rmtree(self.dir, ignore_errors=True)

    def pod(self, status):
        self.api.upsert("pods", {"metadata": {"name": "web-1", "namespace": "shop", "uid": self.c.pod_uid},
                                 "spec": {"nodeName": "dnode", "containers": [{"name": "web"}]},
                                 "status": {"phase": "Running", "qosClass": "Burstable",
                                            "containerStatuses": [dict(name="web", **status)]}})

    def test_exit_while_down(self):
        self.c = containers.Container(self.rootfs, ["sh", "-c", "while true; do sleep 0.2; done"]).start()
        self.pod({"containerID": "containerd://" + self.c.id, "restartCount": 0, "state": {"running": {}}})
        first = Agent(*self.args, node="dnode").start()
        first.wait_for(lambda r: r["type"] == "agent.status" and r["agent"]["api"].get("synced"), what="synced")
        time.sleep(2.5)  # a checkpoint with the pod in it
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait()
        first.stderr.close()
        self.c.kill("KILL")
        self.assertTrue(self.c.wait())
        finished = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.pod({"containerID": "containerd://" + "e" * 64, "restartCount": 1, "state": {"running": {}},
                  "lastState": {"terminated": {"exitCode": 137, "reason": "Error", "finishedAt": finished,
                                               "containerID": "containerd://" + self.c.id}}})
        time.sleep(1.1)  # the exit is older than the next run
        second = Agent(*self.args, node="dnode", tmp=first.tmp).start()
        r = second.wait_for(lambda r: r["type"] == "container.exited" and r["container"]["id"] == self.c.id,
                            timeout=10, what="the exit from the relist")
        self.assertEqual(r["sources"], ["api"], r)
        self.assertEqual(r["kernel"], {"seen": False, "why": "agent_not_running"}, r)
        self.assertEqual((r["api"]["exit_code"], r["api"]["restart_count"]), (137, 1), r)
        self.assertIn("the kernel did not see it: the agent was not running", r["summary"])
        time.sleep(2.0)
        rc, _ = second.stop()
        self.assertEqual(rc, 0)
        recs = second.records()
        self.assertEqual(len([x for x in recs if x["type"] == "container.exited"
                              and x["container"]["id"] in (self.c.id, "e" * 64)]), 1)
        self.assertEqual(len({x["record_id"] for x in recs}), len(recs))
