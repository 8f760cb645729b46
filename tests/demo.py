"""nodetrail demo: the agent on this machine's real kernel, runc containers in kubelet-style
cgroups, and stand-ins for the Kubernetes API server and EC2 IMDS telling their side of the story.

Usage (root): python3 tests/demo.py AGENT_BINARY
"""
import json
import os
import shutil
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "integration"))
sys.path.insert(0, os.path.join(here, "fakeapi"))
os.environ.setdefault("NODETRAIL_AGENT", sys.argv[1] if len(sys.argv) > 1 else "build/nodetrail")

import containers  # noqa: E402
from agent import Agent  # noqa: E402
from imds import IMDS  # noqa: E402
from kubeapi import KubeAPI  # noqa: E402

NODE = "ip-10-0-1-23.ec2.internal"
STEPS = 8


def step(n, text):
    print(f"[{n}/{STEPS}] {text}", flush=True)


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def pod(c, name, status, meta=None, memory="64Mi"):
    m = {"name": name, "namespace": "shop", "uid": c.pod_uid,
         "ownerReferences": [{"kind": "ReplicaSet", "name": name.rsplit("-", 1)[0]}]}
    m.update(meta or {})
    return {"metadata": m, "spec": {"nodeName": NODE, "terminationGracePeriodSeconds": 30,
                                    "containers": [{"name": "app", "image": f"shop/{name.split('-')[0]}:1.4",
                                                    "resources": {"limits": {"memory": memory}}}]},
            "status": {"phase": "Running", "qosClass": "Burstable", "containerStatuses": [status]}}


def running(c, restarts=0):
    return {"name": "app", "containerID": "containerd://" + c.id, "restartCount": restarts, "state": {"running": {}}}


def terminated_last(c, code, reason, restarts):
    return {"name": "app", "containerID": "containerd://" + "f" * 64, "restartCount": restarts,
            "state": {"running": {}}, "lastState": {"terminated": {
                "exitCode": code, "reason": reason, "containerID": "containerd://" + c.id, "finishedAt": now()}}}


def main():
    if os.geteuid() != 0:
        sys.exit("demo: needs root (eBPF, runc)")
    containers.cleanup_stale()
    containers.kubelet_roots()
    rootfs = containers.Rootfs()
    tmp = tempfile.mkdtemp(prefix="nodetrail-demo-")
    api = KubeAPI(tmp, bookmark_interval=1)
    imds = IMDS()
    api.upsert("nodes", {"metadata": {"name": NODE, "labels": {
        "eks.amazonaws.com/capacityType": "SPOT", "eks.amazonaws.com/nodegroup": "shop-spot",
        "node.kubernetes.io/instance-type": "m5.large", "topology.kubernetes.io/zone": "us-east-1a"}},
        "spec": {}, "status": {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now()}]}})
    agent = Agent("--api", "on", "--api-server", api.url, "--token-file", api.token_file, "--ca-file", api.ca_file,
                  "--imds", "on", "--imds-endpoint", imds.url, "--imds-poll", "1", "--join-window", "3000", "--drain-lead", "3",
                  "--cluster-name", "shop-prod",
                  node=NODE)
    started = []

    def run(name, args, **kw):
        c = containers.Container(rootfs, args, **kw)
        started.append(c)
        api.upsert("pods", pod(c, name, running(c), memory=kw.get("memory_label", "64Mi")))
        return c.start()

    try:
        step(1, f"starting nodetrail (eBPF probes, API watches, IMDS); records go to {agent.out}")
        agent.start()
        step(2, "web-2c4e is scheduled, starts and becomes Ready")
        scheduled = now()
        c = containers.Container(rootfs, ["sh", "-c", "while true; do sleep 0.2; done"], qos="besteffort")
        started.append(c)
        web = pod(c, "web-2c4e", running(c))
        web["status"]["conditions"] = [{"type": "PodScheduled", "status": "True", "lastTransitionTime": scheduled}]
        api.upsert("pods", web)
        c.start()
        time.sleep(1.0)
        web["status"]["conditions"].append({"type": "Ready", "status": "True", "lastTransitionTime": now()})
        api.upsert("pods", web)
        step(3, "checkout-7f9c crashes with exit code 3 and the kubelet restarts it")
        c = run("checkout-7f9c", ["sh", "-c", "sleep 0.3; exit 3"])
        c.wait()
        api.upsert("pods", pod(c, "checkout-7f9c", terminated_last(c, 3, "Error", 1)))
        # it keeps crashing: the kubelet backs off, and says so in an event on the pod
        api.upsert("events", {"metadata": {"name": "checkout-7f9c.backoff", "namespace": "shop",
                                           "uid": "5e1f0b8a-backoff-checkout"},
                              "involvedObject": {"kind": "Pod", "name": "checkout-7f9c", "namespace": "shop",
                                                 "uid": c.pod_uid, "fieldPath": "spec.containers{app}"},
                              "reason": "BackOff", "type": "Warning", "count": 4, "source": {"component": "kubelet"},
                              "message": "Back-off restarting failed container app in pod checkout-7f9c_shop",
                              "firstTimestamp": now(), "lastTimestamp": now()})
        looping = terminated_last(c, 3, "Error", 4)
        looping["state"] = {"waiting": {"reason": "CrashLoopBackOff"}}
        api.upsert("pods", pod(c, "checkout-7f9c", looping))
        agent.wait_for(lambda r: r["type"] == "pod.event", timeout=5, what="the crash loop's event")
        step(4, "cart-5d2a is OOM-killed at its 32 MiB memory limit and restarted")
        c = run("cart-5d2a", ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"], memory_limit=32 << 20)
        c.wait()
        p = pod(c, "cart-5d2a", terminated_last(c, 137, "OOMKilled", 3), memory="32Mi")
        api.upsert("pods", p)
        step(5, "someone execs into search-8b1e (what kubectl exec does)")
        c = run("search-8b1e", ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"], qos="besteffort")
        time.sleep(0.3)
        c.exec(["/bin/true"])
        step(6, "search-8b1e is evicted through the Eviction API and stops gracefully on SIGTERM")
        evicting = pod(c, "search-8b1e", running(c), meta={"deletionTimestamp": now(), "deletionGracePeriodSeconds": 30})
        evicting["status"]["conditions"] = [{"type": "DisruptionTarget", "status": "True",
                                             "reason": "EvictionByEvictionAPI", "message": "Eviction API: evicting"}]
        api.upsert("pods", evicting)
        c.kill("TERM")
        c.wait()
        evicting["status"]["containerStatuses"] = [{"name": "app", "containerID": "containerd://" + c.id,
                                                     "restartCount": 0, "state": {"terminated": {
                                                         "exitCode": 0, "reason": "Completed",
                                                         "containerID": "containerd://" + c.id}}}]
        api.upsert("pods", evicting)
        api.delete("pods", "shop", "search-8b1e")
        step(7, "memory pressure on the node, then EC2 announces a spot interruption and NTH taints the node")
        node = api.objects["nodes"][("", NODE)]
        node["status"]["conditions"].append({"type": "MemoryPressure", "status": "True",
                                             "reason": "KubeletHasInsufficientMemory", "lastTransitionTime": now()})
        api.upsert("nodes", node)
        api.upsert("events", {"metadata": {"name": NODE + ".memory", "namespace": "default"},
                              "involvedObject": {"kind": "Node", "name": NODE}, "reason": "EvictionThresholdMet",
                              "type": "Warning", "message": "Attempting to reclaim memory",
                              "source": {"component": "kubelet"}, "count": 1, "firstTimestamp": now()})
        time.sleep(0.5)
        # two pods are left to drain: one stops on SIGTERM, one ignores it
        calm = run("api-4d2f", ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"])
        stubborn = run("batch-9c1a", ["sh", "-c", "trap '' TERM; while true; do sleep 0.2; done"])
        time.sleep(0.5)
        deadline = float(int(time.time()) + 7)  # IMDS gives whole seconds
        imds.set_spot_action("terminate", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(deadline)))
        agent.wait_for(lambda r: r["type"] == "node.interruption", timeout=5, what="the interruption")
        node = api.objects["nodes"][("", NODE)]
        node["spec"]["taints"] = [{"key": "aws-node-termination-handler/spot-itn", "value": "spot-itn-8a1f",
                                   "effect": "NoSchedule"}]
        api.upsert("nodes", node)
        step(8, "NTH drains the node: SIGTERM to both pods; at the deadline the instance goes, killing the one left")
        for c, name in ((calm, "api-4d2f"), (stubborn, "batch-9c1a")):
            p = pod(c, name, running(c), meta={"deletionTimestamp": now(), "deletionGracePeriodSeconds": 30})
            p["status"]["conditions"] = [{"type": "DisruptionTarget", "status": "True",
                                          "reason": "EvictionByEvictionAPI", "message": "Eviction API: evicting"}]
            api.upsert("pods", p)
            c.kill("TERM")
        calm.wait()
        api.delete("pods", "shop", "api-4d2f")
        time.sleep(max(0.0, deadline - time.time() - 0.5))
        stubborn.kill("KILL")
        agent.wait_for(lambda r: r["type"] == "node.drain_report" and r["drain"]["final"], timeout=10,
                       what="the final drain report")
        rc, took = agent.stop()
    finally:
        if agent.proc and agent.proc.poll() is None:
            agent.proc.kill()
        for c in started:
            c.remove()
        rootfs.remove()
        api.close()
        imds.close()
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print("Timeline (what Fluent Bit would ship to CloudWatch Logs):")
    for r in agent.records():
        src = "+".join(r.get("sources") or ["agent"])
        print(f"  {r['event_time'][11:23]}  {r['type']:<21} {src:<11} {r['summary']}")
    print()
    print(f"Record file: {agent.files()[0]}")
    recs = [r for r in agent.records() if r["type"] == "container.oom_killed"]
    if recs:
        print("The OOM kill in full:")
        print(json.dumps(recs[0], indent=2))
    print(f"\nagent exited {rc} after SIGTERM in {took:.2f} s")
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
