"""Kernel and API joined: a real runc container's exit or OOM kill, and the stand-in API
server's status for the same container id, become one record with both sides."""
import os
import re
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakeapi"))
import containers  # noqa: E402
from agent import Agent, require_real_kernel  # noqa: E402
from kubeapi import KubeAPI  # noqa: E402

NODE = "ip-10-0-1-23.ec2.internal"


def skip_class(why):
    raise unittest.SkipTest(why)


class KernelApiJoin(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_real_kernel(skip_class)
        containers.kubelet_roots()
        cls.rootfs = containers.Rootfs()
        cls.dir = tempfile.mkdtemp(prefix="nodetrail-join-")
        cls.api = KubeAPI(cls.dir, bookmark_interval=0.5)
        cls.api.upsert("nodes", {"metadata": {"name": NODE}, "spec": {}, "status": {}})
        cls.agent = Agent("--bpf", "on", "--api", "on", "--api-server", cls.api.url, "--token-file",
                          cls.api.token_file, "--ca-file", cls.api.ca_file, "--imds", "off",
                          "--join-window", "3000", node=NODE).start()
        cls.started = []

    @classmethod
    def tearDownClass(cls):
        rc, _ = cls.agent.stop()
        for c in cls.started:
            c.remove()
        cls.api.close()
        cls.rootfs.remove()
        shutil.rmtree(cls.dir, ignore_errors=True)
        assert rc == 0, cls.agent.log()[-2000:]

    def pod(self, c, name, status):
        return {"metadata": {"name": name, "namespace": "shop", "uid": c.pod_uid,
                             "ownerReferences": [{"kind": "ReplicaSet", "name": name + "-rs"}]},
                "spec": {"nodeName": NODE, "containers": [{"name": "app", "image": "shop/app:1",
                                                           "resources": {"limits": {"memory": "32Mi"}}}]},
                "status": {"phase": "Running", "qosClass": "Burstable", "containerStatuses": [status]}}

    def run_container(self, args, **kw):
        c = containers.Container(self.rootfs, args, **kw)
        self.started.append(c)
        return c

    def test_exit_joined_with_restart(self):
        c = self.run_container(["sh", "-c", "sleep 0.3; exit 3"])
        running = {"name": "app", "containerID": "containerd://" + c.id, "restartCount": 0, "state": {"running": {}}}
        self.api.upsert("pods", self.pod(c, "web-1", running))
        c.start()
        self.assertTrue(c.wait())
        time.sleep(0.5)
        # kubelet restarts it: the old id moves to lastState
        restarted = {"name": "app", "containerID": "containerd://" + "e" * 64, "restartCount": 1,
                     "state": {"running": {}}, "lastState": {"terminated": {
                         "exitCode": 3, "reason": "Error", "containerID": "containerd://" + c.id,
                         "finishedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}}}
        self.api.upsert("pods", self.pod(c, "web-1", restarted))
        r = self.agent.wait_for(lambda r: r["type"] == "container.exited" and r["container"]["id"] == c.id,
                                what="joined container.exited")
        self.assertEqual(r["sources"], ["kernel", "api"])
        self.assertEqual(r["kernel"]["exit_code"], 3)
        self.assertEqual(r["api"]["exit_code"], 3)
        self.assertEqual(r["api"]["reason"], "Error")
        self.assertEqual(r["api"]["restart_count"], 1)
        self.assertEqual(r["container"]["name"], "app")
        self.assertEqual(r["pod"]["name"], "web-1")
        self.assertEqual(r["pod"]["owner"]["kind"], "ReplicaSet")
        self.assertIn("container app of pod shop/web-1 exited with code 3", r["summary"])
        self.assertIn("restart #1", r["summary"])

    def test_oom_joined(self):
        c = self.run_container(["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"],
                               memory_limit=32 << 20)
        running = {"name": "app", "containerID": "containerd://" + c.id, "restartCount": 2, "state": {"running": {}}}
        self.api.upsert("pods", self.pod(c, "oom-1", running))
        c.start()
        self.assertTrue(c.wait())
        oomed = {"name": "app", "containerID": "containerd://" + c.id, "restartCount": 2,
                 "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "containerID": "containerd://" + c.id}}}
        self.api.upsert("pods", self.pod(c, "oom-1", oomed))
        r = self.agent.wait_for(lambda r: r["type"] == "container.oom_killed" and r["container"]["id"] == c.id,
                                what="joined container.oom_killed")
        self.assertEqual(r["sources"], ["kernel", "api"])
        self.assertEqual(r["kernel"]["memory_limit_bytes"], 32 << 20)
        self.assertEqual(r["api"]["memory_limit_bytes"], 32 << 20)
        self.assertEqual(r["api"]["reason"], "OOMKilled")
        # the usage the kernel read at the kill: at the limit, or a page or two under it when the kernel
        # reclaimed some just before (CI once read 31.9 MiB)
        m = re.search(r"container app of pod shop/oom-1 OOM-killed at (\d+\.\d) MiB of 32\.0 MiB container limit",
                      r["summary"])
        self.assertIsNotNone(m, r["summary"])
        self.assertGreaterEqual(float(m.group(1)), 31.0)
        self.assertIn("restart #2", r["summary"])

    def test_eviction_sigterm_ignored_then_sigkill_after_grace(self):
        c = self.run_container(["sh", "-c", "trap '' TERM; while true; do sleep 0.2; done"])
        running = {"name": "app", "containerID": "containerd://" + c.id, "restartCount": 0, "state": {"running": {}}}
        self.api.upsert("pods", self.pod(c, "stubborn-1", running))
        c.start()
        time.sleep(0.3)
        evicting = self.pod(c, "stubborn-1", running)
        evicting["metadata"].update({"deletionTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                     "deletionGracePeriodSeconds": 2})
        evicting["status"]["conditions"] = [{"type": "DisruptionTarget", "status": "True",
                                             "reason": "EvictionByEvictionAPI"}]
        self.api.upsert("pods", evicting)
        c.kill("TERM")   # ignored
        time.sleep(2.0)  # the grace period
        c.kill("KILL")
        self.assertTrue(c.wait())
        evicting["status"]["containerStatuses"] = [{"name": "app", "containerID": "containerd://" + c.id,
                                                     "state": {"terminated": {"exitCode": 137, "reason": "Error",
                                                                              "containerID": "containerd://" + c.id}}}]
        self.api.upsert("pods", evicting)
        time.sleep(0.3)
        self.api.delete("pods", "shop", "stubborn-1")
        r = self.agent.wait_for(lambda r: r["type"] == "pod.terminated" and r["pod"]["name"] == "stubborn-1",
                                what="pod.terminated")
        self.assertEqual(r["api"]["cause"], "evicted")
        self.assertEqual(r["sources"], ["api", "kernel"])
        k = r["kernel"]["containers"][0]
        self.assertEqual(k["name"], "app")
        self.assertEqual(k["verdict"], "killed_after_grace")
        self.assertEqual(k["signal"], "SIGKILL")
        self.assertEqual(k["sigkill_comm"], "runc")
        self.assertGreaterEqual(k["stop_s"], 1.9)
        self.assertIn("1 SIGKILLed after the grace period", r["summary"])

    def test_crash_loop_of_three_restarts(self):
        """One container of one pod exits 1 three times; the kubelet backs off. Each exit is one joined
        record with its restart count and the series before it."""
        pod_uid, series, finished = None, [], []
        for n in range(1, 4):
            c = self.run_container(["sh", "-c", "exit 1"], pod_uid=pod_uid)
            pod_uid = c.pod_uid
            series.append(c)
            running = {"name": "app", "containerID": "containerd://" + c.id, "restartCount": n - 1,
                       "state": {"running": {}}}
            if n > 1:
                running["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": finished[-1],
                                                       "containerID": "containerd://" + series[-2].id}}
            self.api.upsert("pods", self.pod(c, "crashy-1", running))
            c.start()
            self.assertTrue(c.wait())
            finished.append(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            waiting = {"name": "app", "containerID": "containerd://" + c.id, "restartCount": n,
                       "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                       "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": finished[-1],
                                                    "containerID": "containerd://" + c.id}}}
            self.api.upsert("pods", self.pod(c, "crashy-1", waiting))
            self.agent.wait_for(lambda r: r["type"] == "container.exited" and r["container"]["id"] == c.id,
                                what=f"exit {n}")
        recs = [r for r in self.agent.records() if r["type"] == "container.exited"
                and r.get("pod", {}).get("name") == "crashy-1"]
        self.assertEqual([r["api"]["restart_count"] for r in recs], [1, 2, 3])
        self.assertEqual([r["sources"] for r in recs], [["kernel", "api"]] * 3)
        self.assertEqual([len(r["api"]["crash_loop"]["previous_exits"]) for r in recs], [0, 1, 2])
        self.assertTrue(all(r["api"]["crash_loop"]["back_off"] for r in recs))
        self.assertIn(f"restart #3, exit 3 of a series since {finished[0][:-1]}", recs[2]["summary"])
        self.assertTrue(recs[2]["summary"].endswith("Z, CrashLoopBackOff"), recs[2]["summary"])

    def evict(self, name, script, reason, stop):
        c = self.run_container(["sh", "-c", script])
        running = {"name": "app", "containerID": "containerd://" + c.id, "restartCount": 0, "state": {"running": {}}}
        self.api.upsert("pods", self.pod(c, name, running))
        c.start()
        time.sleep(0.3)
        p = self.pod(c, name, running)
        p["metadata"].update({"deletionTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                              "deletionGracePeriodSeconds": 30})
        p["status"]["conditions"] = [{"type": "DisruptionTarget", "status": "True", "reason": reason}]
        self.api.upsert("pods", p)
        c.kill("TERM")
        self.assertTrue(c.wait())
        p["status"]["containerStatuses"] = [{"name": "app", "containerID": "containerd://" + c.id, "state": {
            "terminated": {"exitCode": stop, "reason": "Completed" if stop == 0 else "Error",
                           "containerID": "containerd://" + c.id}}}]
        self.api.upsert("pods", p)
        time.sleep(0.3)
        self.api.delete("pods", "shop", name)
        return self.agent.wait_for(lambda r: r["type"] == "pod.terminated" and r["pod"]["name"] == name,
                                   what="pod.terminated")

    def test_graceful_eviction(self):
        r = self.evict("calm-1", "trap 'exit 0' TERM; while true; do sleep 0.2; done", "EvictionByEvictionAPI", 0)
        self.assertEqual(r["api"]["cause"], "evicted")
        self.assertEqual(r["kernel"]["containers"][0]["verdict"], "graceful")
        self.assertIn("kernel: 1 of 1 container stopped gracefully", r["summary"])

    def test_preemption(self):
        r = self.evict("batch-1", "trap 'exit 143' TERM; while true; do sleep 0.2; done", "PreemptionByScheduler", 143)
        self.assertEqual(r["api"]["cause"], "preempted")
        self.assertEqual(r["kernel"]["containers"][0]["verdict"], "graceful")
        self.assertEqual(r["kernel"]["containers"][0]["exit_code"], 143)
        self.assertIn("terminated: preempted (PreemptionByScheduler)", r["summary"])

    def test_pod_started_timeline(self):
        c = self.run_container(["sh", "-c", "sleep 30"])
        scheduled = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        running = {"name": "app", "containerID": "containerd://" + c.id, "restartCount": 0, "state": {"running": {}}}
        p = self.pod(c, "fresh-1", running)
        p["status"]["conditions"] = [{"type": "PodScheduled", "status": "True", "lastTransitionTime": scheduled}]
        self.api.upsert("pods", p)
        c.start()
        time.sleep(1.1)
        p["status"]["conditions"].append({"type": "Ready", "status": "True",
                                          "lastTransitionTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        self.api.upsert("pods", p)
        r = self.agent.wait_for(lambda r: r["type"] == "pod.started" and r["pod"]["name"] == "fresh-1",
                                what="pod.started")
        self.assertEqual(r["sources"], ["api", "kernel"])
        self.assertEqual(r["api"]["scheduled_at"], scheduled)
        ctr = r["kernel"]["containers"][0]
        self.assertEqual((ctr["name"], ctr["id"]), ("app", c.id))
        self.assertIn("first_exec_at", ctr)
        self.assertIn("cgroup_created_at", ctr)
        self.assertGreaterEqual(r["api"]["timeline"]["scheduled_to_ready_s"], 1.0)
        # further updates of a ready pod do not start it again
        self.api.upsert("pods", p)
        time.sleep(0.5)
        self.assertEqual(len([x for x in self.agent.records() if x["type"] == "pod.started"
                              and x["pod"]["name"] == "fresh-1"]), 1)
        c.kill("KILL")
        c.wait()

    def test_exit_the_api_never_confirms(self):
        c = self.run_container(["sh", "-c", "exit 4"])
        c.start()
        self.assertTrue(c.wait())
        t0 = time.time()
        r = self.agent.wait_for(lambda r: r["type"] == "container.exited" and r["container"]["id"] == c.id,
                                timeout=10, what="unconfirmed container.exited")
        self.assertGreaterEqual(time.time() - t0, 2.0)  # it waited for the API's word
        self.assertEqual(r["sources"], ["kernel"])
        self.assertEqual(r["kernel"]["exit_code"], 4)


if __name__ == "__main__":
    unittest.main()
