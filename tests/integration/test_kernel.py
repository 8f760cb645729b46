"""The kernel pipeline on the real kernel: runc containers in kubelet-style cgroups -> records.

One agent runs for the whole class; each test drives its own containers and asserts on the
records the agent wrote to its CRI-format file.
"""
import signal
import subprocess
import time
import unittest

import containers
from agent import Agent, require_real_kernel

def skip_class(why):
    raise unittest.SkipTest(why)


class KernelPipeline(unittest.TestCase):
    AGENT_ARGS = ()
    ATTACH = "tp_btf"

    @classmethod
    def setUpClass(cls):
        require_real_kernel(skip_class)
        containers.cleanup_stale()
        containers.kubelet_roots()
        cls.rootfs = containers.Rootfs()
        cls.started = []
        # a container that exists before the agent and exits after it is ready
        cls.early = cls.run_container(["sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.1; done; exit 7"])
        cls.agent = Agent(*cls.AGENT_ARGS).start()

    @classmethod
    def tearDownClass(cls):
        rc, took = cls.agent.stop()
        for c in cls.started:
            c.remove()
        cls.rootfs.remove()
        last = cls.agent.records()[-1]
        assert rc == 0, f"agent exited {rc} after SIGTERM:\n{cls.agent.log()[-2000:]}"
        assert took < 2.0, f"agent took {took:.2f} s to stop"
        assert last["type"] == "agent.status" and last["agent"]["state"] == "stopping", last

    @classmethod
    def run_container(cls, args, **kw):
        c = containers.Container(cls.rootfs, args, **kw)
        cls.started.append(c)
        return c.start()

    def exited(self, c, timeout=10):
        self.assertTrue(c.wait(timeout), "container did not stop")
        return self.agent.wait_for(lambda r: r["type"] == "container.exited"
                                   and r["container"]["id"] == c.id, timeout=timeout,
                                   what=f"container.exited for {c.id[:12]}")

    def assert_common(self, r, c):
        self.assertEqual(r["schema"], "nodetrail/v1")
        self.assertEqual(r["pod"]["uid"], c.pod_uid)
        self.assertEqual(r["container"]["id"], c.id)
        self.assertEqual(len(r["container"]["id"]), 64)
        self.assertEqual(r["sources"], ["kernel"])
        self.assertEqual(r["NodeName"], "itest-node")
        self.assertEqual(r["ClusterName"], "itest")
        self.assertRegex(r["event_time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")
        self.assertTrue(r["summary"])

    def test_exit_code_cgroupfs_layout(self):
        c = self.run_container(["sh", "-c", "sleep 0.2; exit 3"], layout="cgroupfs", qos="besteffort")
        r = self.exited(c)
        self.assert_common(r, c)
        self.assertEqual(r["kernel"]["exit_code"], 3)
        self.assertNotIn("signal", r["kernel"])
        self.assertEqual(r["pod"]["qos_class"], "besteffort")
        self.assertIn("exited with code 3", r["summary"])
        self.assertIn("first_exec_at", r["kernel"])
        self.assertIn("cgroup_created_at", r["kernel"])

    def test_exit_code_systemd_layout(self):
        c = self.run_container(["sh", "-c", "exit 42"], layout="systemd", qos="burstable")
        r = self.exited(c)
        self.assert_common(r, c)  # the pod UID comes back with dashes, not underscores
        self.assertEqual(r["kernel"]["exit_code"], 42)
        self.assertEqual(r["container"]["runtime"], "containerd")
        self.assertIn("_", r["container"]["cgroup"])

    def test_guaranteed_pod(self):
        c = self.run_container(["true"], layout="systemd", qos="guaranteed")
        r = self.exited(c)
        self.assert_common(r, c)
        self.assertEqual(r["kernel"]["exit_code"], 0)
        self.assertEqual(r["pod"]["qos_class"], "guaranteed")

    def test_sigterm_from_outside(self):
        c = self.run_container(["sh", "-c", "trap 'exit 143' TERM; sleep 1000 & wait"])
        time.sleep(0.3)
        c.kill("TERM")
        r = self.exited(c)
        self.assert_common(r, c)
        self.assertEqual(r["kernel"]["exit_code"], 143)
        term = [s for s in r["kernel"]["signals"] if s["signal"] == "SIGTERM"]
        self.assertTrue(term, r["kernel"])
        self.assertEqual(term[0]["sender"], "external")
        self.assertEqual(term[0]["sender_comm"], "runc")
        self.assertEqual(term[0]["target_pid"], r["kernel"]["pid"])
        self.assertIn("after SIGTERM from runc", r["summary"])

    def test_sigkill_is_the_fatal_signal(self):
        c = self.run_container(["sleep", "1000"])
        time.sleep(0.2)
        c.kill("KILL")
        r = self.exited(c)
        self.assertEqual(r["kernel"]["signal"], 9)
        self.assertEqual(r["kernel"]["fatal_signal"]["sender"], "external")
        self.assertEqual(r["kernel"]["fatal_signal"]["sender_comm"], "runc")

    def test_oom_at_memory_limit(self):
        limit = 32 * 1024 * 1024
        c = self.run_container(["sh", "-c", "dd if=/dev/zero of=/dev/null bs=64M count=1; sleep 0.2; exit 0"],
                               memory_limit=limit)
        oom = self.agent.wait_for(lambda r: r["type"] == "container.oom_killed"
                                  and r["container"]["id"] == c.id, what="container.oom_killed")
        self.assert_common(oom, c)
        k = oom["kernel"]
        self.assertEqual(k["comm"], "dd")
        self.assertEqual(k["limit_scope"], "container")
        self.assertEqual(k["memory_limit_bytes"], limit)
        self.assertLessEqual(abs(k["memory_usage_bytes"] - limit), 2 * 1024 * 1024)
        self.assertIn("32.0 MiB container limit", oom["summary"])
        self.exited(c)

    def test_oom_kills_main_process(self):
        limit = 32 * 1024 * 1024
        c = self.run_container(["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"], memory_limit=limit)
        r = self.exited(c)
        self.assertEqual(r["kernel"]["signal"], 9)
        self.assertTrue(r["kernel"]["oom_killed"])
        self.assertEqual(r["kernel"]["fatal_signal"]["sender"], "kernel")
        self.assertIn("OOM-killed", r["summary"])

    def test_oom_at_pod_limit(self):
        # no container limit: the pod's cgroup (a level up) is what runs out
        limit = 48 * 1024 * 1024
        c = self.run_container(["dd", "if=/dev/zero", "of=/dev/null", "bs=80M", "count=1"],
                               pod_memory_limit=limit)
        oom = self.agent.wait_for(lambda r: r["type"] == "container.oom_killed"
                                  and r["container"]["id"] == c.id, what="container.oom_killed")
        k = oom["kernel"]
        self.assertEqual(k["limit_scope"], "pod")
        self.assertEqual(k["limit_level"], 1)
        self.assertEqual(k["memory_limit_bytes"], limit)
        self.assertNotIn("container_limit_bytes", k)
        self.assertIn("48.0 MiB pod limit", oom["summary"])
        self.exited(c)

    def test_exec_into_running_container(self):
        # the container's own fork+execs (sleep in a loop) must not count as execs into it
        c = self.run_container(["sh", "-c", "while true; do sleep 0.05; done"])
        time.sleep(0.5)
        p = c.exec(["/bin/true"])
        self.assertEqual(p.returncode, 0, p.stderr)
        r = self.agent.wait_for(lambda r: r["type"] == "container.exec" and r["container"]["id"] == c.id,
                                what="container.exec")
        self.assert_common(r, c)
        self.assertEqual(r["kernel"]["comm"], "true")
        self.assertEqual(r["kernel"]["exe"], "/bin/true")
        self.assertNotIn("args", r["kernel"])  # command line only if the operator opts in
        time.sleep(0.3)
        self.assertEqual(len(self.agent.for_container(c.id, "container.exec")), 1)
        c.kill("KILL")
        self.exited(c)

    def test_container_started_before_agent(self):
        c = self.early
        p = c.exec(["sh", "-c", "echo > /tmp/go"])
        self.assertEqual(p.returncode, 0, p.stderr)
        r = self.exited(c)
        self.assert_common(r, c)
        self.assertEqual(r["kernel"]["exit_code"], 7)
        self.assertTrue(r["kernel"]["preexisting"])

    def test_processes_outside_containers_are_silent(self):
        before = len(self.agent.records())
        pids = set()
        for _ in range(200):
            p = subprocess.Popen(["/bin/true"])
            pids.add(p.pid)
            p.wait()
        s = subprocess.Popen(["sleep", "100"])
        pids.add(s.pid)
        s.send_signal(signal.SIGTERM)
        s.wait()
        time.sleep(0.5)
        new = self.agent.records()[before:]
        for r in new:
            if r["type"].startswith("container."):
                self.assertIn("id", r.get("container", {}), r)
                self.assertNotIn(r["kernel"].get("pid"), pids, r)

    def test_zz_file_integrity(self):
        # runs last (alphabetical): the whole file so far
        recs = self.agent.records()
        self.assertGreater(len(recs), 5)
        seqs = [r["seq"] for r in recs]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))))
        ids = [r["record_id"] for r in recs]
        self.assertEqual(len(ids), len(set(ids)))
        for r in recs:
            for key in ("time", "stream", "_p", "log", "log_processed", "kubernetes"):
                self.assertNotIn(key, r)
        status = recs[0]
        self.assertEqual(status["agent"]["bpf"], "on")
        self.assertEqual(status["agent"]["attach"], self.ATTACH)
        self.assertEqual(status["agent"]["io"], "io_uring")
        self.assertEqual(sum(status["agent"]["ringbuf_drops"].values()), 0)


class KernelPipelineRawTracepoints(KernelPipeline):
    """The same scenarios through the raw_tp fallback programs."""
    AGENT_ARGS = ("--attach", "raw_tp")
    ATTACH = "raw_tp"


if __name__ == "__main__":
    unittest.main()
