"""Exec probes and hooks, run the way the kubelet runs them (the probe's argv, through `runc exec`, each
period), on the real kernel: they are counted, not recorded as `container.exec`; a person's exec in
the same container through the same path, with an argv that differs by one argument, is recorded. A
probe with `$(VAR)` and one whose argv is over 256 bytes are recognised; the counters on /metrics
equal the runs and failures the test made. A liveness kill is explained (an exec probe's by the kernel, an
httpGet probe's by the kubelet's events); a kill with the probe passing (the kubelet's "definition
changed", said so), a pod's deletion and an OOM kill name no probe."""
import os
import re
import shutil
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakeapi"))
import containers  # noqa: E402
from agent import Agent, require_real_kernel  # noqa: E402
from kubeapi import KubeAPI  # noqa: E402

NODE = "ip-10-0-1-23.ec2.internal"
LIVENESS = ["/bin/sh", "-c", "test ! -e /tmp/unhealthy"]
READINESS_SPEC = ["/bin/sh", "-c", "exit $(CODE)"]          # the kubelet expands it from the static env
READINESS = ["/bin/sh", "-c", "exit 0"]
STARTUP = ["/bin/sh", "-c", "exit 0", "#" + "x" * 300]         # 330 bytes of argv: past what the kernel keeps
PRESTOP = ["/bin/sh", "-c", "sleep 0.2"]
MAIN = ["sh", "-c", "trap 'exit 143' TERM; while :; do sleep 0.1; done"]


def skip_class(why):
    raise unittest.SkipTest(why)


def metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


class ExecProbes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_real_kernel(skip_class)
        containers.kubelet_roots()
        cls.rootfs = containers.Rootfs()
        cls.dir = tempfile.mkdtemp(prefix="nodetrail-probes-")
        cls.api = KubeAPI(cls.dir, bookmark_interval=0.5)
        cls.api.upsert("nodes", {"metadata": {"name": NODE}, "spec": {}, "status": {}})
        cls.agent = Agent("--bpf", "on", "--api", "on", "--api-server", cls.api.url, "--token-file",
                          cls.api.token_file, "--ca-file", cls.api.ca_file, "--imds", "off",
                          "--join-window", "3000", "--metrics-addr", "127.0.0.1:0", node=NODE).start()
        cls.port = int(re.search(r"/metrics on 127\.0\.0\.1:0 \(port (\d+)\)", cls.agent.log()).group(1))
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

    def pod(self, c, name, state, deleting=False):
        spec = {"name": "app", "image": "shop/app:1", "env": [{"name": "CODE", "value": "0"}],
                "livenessProbe": {"exec": {"command": LIVENESS}, "periodSeconds": 1, "failureThreshold": 3},
                "readinessProbe": {"exec": {"command": READINESS_SPEC}, "periodSeconds": 1},
                "startupProbe": {"exec": {"command": STARTUP}, "periodSeconds": 1},
                "lifecycle": {"preStop": {"exec": {"command": PRESTOP}}}}
        meta = {"name": name, "namespace": "shop", "uid": c.pod_uid}
        if deleting:
            meta.update({"deletionTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                         "deletionGracePeriodSeconds": 30})
        return {"metadata": meta, "spec": {"nodeName": NODE, "containers": [spec]},
                "status": {"phase": "Running", "containerStatuses": [
                    {"name": "app", "containerID": "containerd://" + c.id, "restartCount": 0, "state": state}]}}

    def start_pod(self, name, args=MAIN, **kw):
        c = containers.Container(self.rootfs, args, **kw)
        self.started.append(c)
        self.api.upsert("pods", self.pod(c, name, {"running": {}}))
        time.sleep(0.5)  # the pod's spec is known before the first probe
        c.start()
        time.sleep(0.5)  # its first exec seen: the main process is known
        return c

    def kubelet_round(self, c, truth):
        """One period of the kubelet's prober: each exec probe once, through runc exec."""
        for kind, argv in (("liveness", LIVENESS), ("readiness", READINESS), ("startup", STARTUP)):
            rc = c.exec(argv).returncode
            truth[kind][0] += 1
            truth[kind][1] += rc != 0
        return truth

    def stopped(self, c, name, state):
        self.assertTrue(c.wait(10))
        self.api.upsert("pods", self.pod(c, name, state))
        return self.agent.wait_for(lambda r: r["type"] == "container.exited" and r["container"]["id"] == c.id,
                                   timeout=10, what="container.exited")

    def counter(self, text, family, name, probe):
        m = re.search(r'(?m)^nodetrail_%s\{namespace="shop",pod="%s",container="app",probe="%s"\} (\d+)$'
                      % (family, name, re.escape(probe)), text)
        self.assertIsNotNone(m, f"{family} of {name} {probe}:\n{text[-3000:]}")
        return int(m.group(1))

    def test_liveness_kill_explained_and_probes_are_not_execs(self):
        name = "web-probed"
        c = self.start_pod(name)
        truth = {"liveness": [0, 0], "readiness": [0, 0], "startup": [0, 0]}
        for _ in range(4):
            self.kubelet_round(c, truth)
        # a person, through the same path: the liveness argv and one argument more
        self.assertEqual(c.exec(LIVENESS + ["extra"]).returncode, 0)
        self.assertEqual(c.exec(["sh", "-c", ": > /tmp/unhealthy"]).returncode, 0)
        for _ in range(3):  # the kubelet's failureThreshold: three failures in a row
            self.kubelet_round(c, truth)
        self.assertEqual(truth["liveness"], [7, 3])
        self.assertEqual(truth["readiness"], [7, 0])
        text = metrics(self.port)
        self.assertEqual(self.counter(text, "exec_probe_runs_total", name, "liveness probe"), 7)
        self.assertEqual(self.counter(text, "exec_probe_failures_total", name, "liveness probe"), 3)
        self.assertEqual(self.counter(text, "exec_probe_runs_total", name, "readiness probe"), 7)
        self.assertEqual(self.counter(text, "exec_probe_failures_total", name, "readiness probe"), 0)
        self.assertEqual(self.counter(text, "exec_probe_runs_total", name, "startup probe"), 7)
        # the kubelet kills it: the preStop hook, then SIGTERM through the runtime
        self.assertEqual(c.exec(PRESTOP).returncode, 0)
        c.kill("TERM")
        r = self.stopped(c, name, {"terminated": {"exitCode": 143, "reason": "Error",
                                                  "containerID": "containerd://" + c.id}})
        self.assertEqual(r["kernel"]["killed_for_probe"], {"probe": "liveness probe", "failures_in_a_row": 3,
                                                           "failure_threshold": 3, "last_exit_code": 1})
        self.assertIn("killed by the kubelet, liveness probe failed 3 times in a row (last exit code 1)",
                      r["summary"])
        execs = self.agent.for_container(c.id, "container.exec")
        self.assertEqual(sorted(e["kernel"]["comm"] for e in execs), ["sh", "sh"], execs)  # the person's two
        probes = {p["name"]: p for p in r["kernel"]["exec_probes"]}
        self.assertEqual((probes["liveness probe"]["runs"], probes["liveness probe"]["failures"]), (7, 3))
        self.assertEqual(probes["preStop hook"]["runs"], 1)
        text = metrics(self.port)
        self.assertRegex(text, r"(?m)^nodetrail_exec_hook_runs_total [1-9]")

    def kubelet_event(self, c, name, reason, message, count=1):
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.api.upsert("events", {
            "metadata": {"name": f"{name}.{reason}", "namespace": "shop", "uid": f"ev-{name}-{reason}"},
            "involvedObject": {"kind": "Pod", "name": name, "namespace": "shop", "uid": c.pod_uid,
                               "fieldPath": "spec.containers{app}"},
            "reason": reason, "type": "Normal" if reason == "Killing" else "Warning", "message": message,
            "source": {"component": "kubelet", "host": NODE}, "count": count,
            "firstTimestamp": at, "lastTimestamp": at})

    def test_http_liveness_kill_explained_by_the_kubelet(self):
        # an httpGet liveness probe: the kernel cannot see it; the kubelet's events say why it killed
        name = "web-http"
        c = containers.Container(self.rootfs, MAIN)
        self.started.append(c)
        pod = self.pod(c, name, {"running": {}})
        pod["spec"]["containers"][0]["livenessProbe"] = {"httpGet": {"path": "/healthz", "port": 8080},
                                                         "failureThreshold": 3}
        self.api.upsert("pods", pod)
        time.sleep(0.5)
        c.start()
        time.sleep(0.5)
        self.kubelet_event(c, name, "Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 500", 3)
        self.kubelet_event(c, name, "Killing", "Container app failed liveness probe, will be restarted")
        c.kill("TERM")
        self.assertTrue(c.wait(10))
        pod["status"]["containerStatuses"][0]["state"] = {"terminated": {
            "exitCode": 143, "reason": "Error", "containerID": "containerd://" + c.id}}
        self.api.upsert("pods", pod)
        r = self.agent.wait_for(lambda r: r["type"] == "container.exited" and r["container"]["id"] == c.id,
                                timeout=15, what="container.exited")
        self.assertIn("exited with code 143 after SIGTERM from runc (external): killed by the kubelet: liveness "
                      "probe failed 3 times (HTTP probe failed with statuscode: 500); API: Error, exit code 143",
                      r["summary"])
        self.assertEqual(r["api"]["killed_by_kubelet"]["probe"], "liveness probe")
        self.assertNotIn("killed_for_probe", r["kernel"])

    def test_kill_with_passing_probe_names_no_probe(self):
        name = "web-changed"
        c = self.start_pod(name)
        truth = {"liveness": [0, 0], "readiness": [0, 0], "startup": [0, 0]}
        for _ in range(3):
            self.kubelet_round(c, truth)
        self.kubelet_event(c, name, "Killing", "Container app definition changed, will be restarted")
        c.kill("TERM")
        r = self.stopped(c, name, {"terminated": {"exitCode": 143, "reason": "Error",
                                                  "containerID": "containerd://" + c.id}})
        self.assertNotIn("killed_for_probe", r["kernel"])
        self.assertNotIn("probe", r["summary"])
        self.assertIn("(external): stopped by the kubelet: its definition changed", r["summary"])
        self.assertEqual(self.agent.for_container(c.id, "container.exec"), [])

    def test_deletion_names_no_probe(self):
        name = "web-deleted"
        c = self.start_pod(name)
        truth = {"liveness": [0, 0], "readiness": [0, 0], "startup": [0, 0]}
        for _ in range(2):
            self.kubelet_round(c, truth)
        self.api.upsert("pods", self.pod(c, name, {"running": {}}, deleting=True))
        self.assertEqual(c.exec(PRESTOP).returncode, 0)
        c.kill("TERM")
        self.assertTrue(c.wait(10))
        self.api.delete("pods", "shop", name)
        r = self.agent.wait_for(lambda r: r["type"] == "pod.terminated" and r["pod"]["name"] == name,
                                timeout=10, what="pod.terminated")
        hook = r["kernel"]["containers"][0].get("prestop_hook")
        self.assertIsNotNone(hook, r)
        self.assertEqual(hook["exit_code"], 0)
        self.assertLessEqual(hook["ended_at"], r["kernel"]["containers"][0]["sigterm_at"])
        r = self.agent.wait_for(lambda r: r["type"] == "container.exited" and r["container"]["id"] == c.id,
                                timeout=10, what="container.exited")
        self.assertNotIn("killed_for_probe", r["kernel"])
        self.assertEqual(self.agent.for_container(c.id, "container.exec"), [])

    def test_oom_kill_names_no_probe(self):
        name = "web-oom"
        # the probes pass while it runs; then its main process allocates past the 32 MiB limit
        c = self.start_pod(name, ["sh", "-c", "sleep 1.5; exec dd if=/dev/zero of=/dev/null bs=64M count=1"],
                           memory_limit=32 << 20)
        truth = {"liveness": [0, 0], "readiness": [0, 0], "startup": [0, 0]}
        self.kubelet_round(c, truth)
        self.assertEqual(truth["liveness"], [1, 0])
        r = self.stopped(c, name, {"terminated": {"exitCode": 137, "reason": "OOMKilled",
                                                  "containerID": "containerd://" + c.id}})
        self.assertTrue(r["kernel"]["oom_killed"], r["kernel"])
        self.assertNotIn("killed_for_probe", r["kernel"])
        self.assertNotIn("probe", r["summary"])
        self.assertEqual({p["name"]: p["failures"] for p in r["kernel"]["exec_probes"]}["liveness probe"], 0)


if __name__ == "__main__":
    unittest.main()
