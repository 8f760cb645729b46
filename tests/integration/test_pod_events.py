"""The events of a pod in trouble, listed on demand from a stand-in API server and written as
pod.event records: a container in CrashLoopBackOff at once, a pod Pending past --pod-trouble-after, a
container just killed and restarted (an HTTP liveness probe's kill: the kubelet's Unhealthy and Killing);
a healthy pod's events are never listed; a restart does not write the same event twice; a repeat of
an event (its count) is written again. Without eBPF (--bpf off): this is the API side."""
import os
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakeapi"))
from agent import Agent  # noqa: E402
from kubeapi import KubeAPI  # noqa: E402

NODE = "ip-10-0-1-23.ec2.internal"


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def pod(name, phase="Running", waiting=None):
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    return {"metadata": {"name": name, "namespace": "shop", "uid": f"uid-{name}"},
            "spec": {"nodeName": NODE, "containers": [{"name": "app", "image": "shop/app:1"}]},
            "status": {"phase": phase, "conditions": [{"type": "PodScheduled", "status": "True",
                                                        "lastTransitionTime": now()}],
                       "containerStatuses": [{"name": "app", "restartCount": 4, "state": state}]}}


def event(name, pod_name, reason, kind="Warning", count=1, message=None):
    return {"metadata": {"name": name, "namespace": "shop", "uid": f"ev-{name}"},
            "involvedObject": {"kind": "Pod", "name": pod_name, "namespace": "shop", "uid": f"uid-{pod_name}",
                               "fieldPath": "spec.containers{app}"},
            "reason": reason, "type": kind, "message": message or f"{reason} of {pod_name}",
            "source": {"component": "kubelet", "host": NODE}, "count": count,
            "firstTimestamp": now(), "lastTimestamp": now()}


class PodEvents(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="nodetrail-podev-")
        self.api = KubeAPI(self.dir, bookmark_interval=0.5)
        self.api.upsert("nodes", {"metadata": {"name": NODE}, "spec": {}, "status": {}})
        self.agent = None

    def tearDown(self):
        if self.agent and self.agent.proc and self.agent.proc.poll() is None:
            self.agent.stop()
        self.api.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, tmp=None):
        self.agent = Agent("--bpf", "off", "--imds", "off", "--api", "on", "--api-server", self.api.url,
                           "--token-file", self.api.token_file, "--ca-file", self.api.ca_file,
                           "--pod-trouble-after", "2", node=NODE, tmp=tmp).start()
        return self.agent

    def pod_events(self):
        return [r for r in self.agent.records() if r["type"] == "pod.event"]

    def test_troubled_pods_events_once(self):
        self.api.upsert("events", event("crash-backoff", "crashy", "BackOff", count=3,
                                        message="Back-off restarting failed container app in pod crashy"))
        self.api.upsert("events", event("crash-pulled", "crashy", "Pulled", kind="Normal"))
        self.api.upsert("events", event("sandbox", "stuck", "FailedCreatePodSandBox",
                                        message="Failed to create pod sandbox: plugin type=\"aws-cni\" failed "
                                                "(add): failed to assign an IP address to container"))
        self.api.upsert("events", event("healthy-warn", "healthy", "Unhealthy"))
        self.start()
        self.api.upsert("pods", pod("healthy"))
        self.api.upsert("pods", pod("crashy", waiting="CrashLoopBackOff"))
        self.api.upsert("pods", pod("stuck", phase="Pending", waiting="ContainerCreating"))
        r = self.agent.wait_for(lambda r: r["type"] == "pod.event" and r["api"]["reason"] == "BackOff",
                                timeout=5, what="the crash loop's BackOff")
        self.assertEqual(r["pod"]["name"], "crashy")
        self.assertEqual(r["container"]["name"], "app")
        self.assertEqual(r["api"]["count"], 3)
        self.assertEqual(r["api"]["trouble"], "CrashLoopBackOff")
        r = self.agent.wait_for(lambda r: r["type"] == "pod.event" and r["pod"]["name"] == "stuck",
                                timeout=10, what="the Pending pod's event")
        self.assertEqual(r["api"]["reason"], "FailedCreatePodSandBox")
        self.assertTrue(r["api"]["trouble"].startswith("Pending for "), r["api"])
        time.sleep(1)
        reasons = sorted((r["pod"]["name"], r["api"]["reason"]) for r in self.pod_events())
        self.assertEqual(reasons, [("crashy", "BackOff"), ("stuck", "FailedCreatePodSandBox")])
        # the agent restarts; the trouble lasts; the same events are not written twice, a repeat is
        tmp = self.agent.tmp
        rc, _ = self.agent.stop()
        self.assertEqual(rc, 0)
        self.api.upsert("events", event("crash-backoff", "crashy", "BackOff", count=4,
                                        message="Back-off restarting failed container app in pod crashy"))
        self.start(tmp=tmp)
        r = self.agent.wait_for(lambda r: r["type"] == "pod.event" and r["api"]["count"] == 4, timeout=10,
                                what="the BackOff repeated")
        time.sleep(3)  # the Pending pod listed again after the restart
        counted = sorted((r["pod"]["name"], r["api"]["reason"], r["api"]["count"]) for r in self.pod_events())
        self.assertEqual(counted, [("crashy", "BackOff", 3), ("crashy", "BackOff", 4),
                                   ("stuck", "FailedCreatePodSandBox", 1)])
        rc, _ = self.agent.stop()
        self.assertEqual(rc, 0)
        status = [r for r in self.agent.records() if r["type"] == "agent.status"][-1]["agent"]
        self.assertEqual(status["state"], "stopping")
        self.assertGreaterEqual(status["api"]["pod_events"]["lists"], 2)
        self.assertEqual(status["api"]["pod_events"]["troubled_pods"], 2)

    def test_http_liveness_kill_explained_by_the_kubelet(self):
        self.api.upsert("events", event("web-unhealthy", "web", "Unhealthy", count=3,
                                        message="Liveness probe failed: HTTP probe failed with statuscode: 500"))
        self.api.upsert("events", event("web-killing", "web", "Killing", kind="Normal",
                                        message="Container app failed liveness probe, will be restarted"))
        self.start()
        self.api.upsert("pods", pod("web"))
        time.sleep(1)
        self.assertEqual(self.pod_events(), [])  # a healthy pod: its events are not listed
        restarted = pod("web")
        restarted["spec"]["containers"][0]["livenessProbe"] = {"httpGet": {"path": "/healthz", "port": 8080}}
        restarted["status"]["containerStatuses"][0]["lastState"] = {"terminated": {
            "exitCode": 137, "reason": "Error", "finishedAt": now(), "containerID": "containerd://" + "ab" * 32}}
        self.api.upsert("pods", restarted)
        self.agent.wait_for(lambda r: r["type"] == "pod.event" and r["api"]["reason"] == "Killing", timeout=5,
                            what="the kubelet's Killing")
        got = {r["api"]["reason"]: r for r in self.pod_events()}
        self.assertEqual(set(got), {"Unhealthy", "Killing"})
        self.assertIn("HTTP probe failed with statuscode: 500", got["Unhealthy"]["summary"])
        self.assertEqual(got["Killing"]["api"]["trouble"], "restarted after exit code 137")
        # the exit itself (only the API saw it: eBPF is off) says why, in the kubelet's words
        r = self.agent.wait_for(lambda r: r["type"] == "container.exited" and r["pod"]["name"] == "web", timeout=10,
                                what="the container's exit")
        self.assertIn("exited (API: Error, exit code 137), restart #4: killed by the kubelet: liveness probe failed "
                      "3 times (HTTP probe failed with statuscode: 500); the kernel did not see it: eBPF is off",
                      r["summary"])
        self.assertEqual(r["api"]["killed_by_kubelet"]["probe"], "liveness probe")
        self.assertEqual(r["api"]["killed_by_kubelet"]["failure_threshold"], 3)


if __name__ == "__main__":
    unittest.main()
