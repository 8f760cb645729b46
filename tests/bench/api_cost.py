"""API cost of one nodetrail agent, measured against the stand-in API server.

Measured in this run: the initial sync (3 lists) with 110 pods on the node among 1,100 in
the cluster, the steady-state bytes of an idle hour scaled from a window with real-like
bookmarks (one a minute per watch), the bytes and requests per pod lifecycle, and the agent's
CPU time per 1,000 watch events. Computed from those: a node's hourly cost with a stated
churn, 1,000 such nodes, and one cluster-wide watcher of the same objects.
"""
import copy
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "fakeapi"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
os.environ.setdefault("NODETRAIL_AGENT", os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/nodetrail"))
from agent import Agent  # noqa: E402
from kubeapi import KubeAPI  # noqa: E402

NODE = "ip-10-0-1-23.ec2.internal"
PODS_ON_NODE, PODS_IN_CLUSTER = 110, 1100
WINDOW_S = float(os.environ.get("WINDOW", "60"))
EVENTS = int(os.environ.get("EVENTS", "2000"))
# model inputs for the hourly figures (stated in the output)
CHURN_PER_HOUR = 20          # pod lifecycles per node per hour
NODE_UPDATES_PER_HOUR = 12   # kubelet node status writes (nodeStatusReportFrequency 5 min)
WATCH_TIMEOUT_AVG_S = 450    # the agent draws timeoutSeconds in 300-600


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def template_pod():
    fixtures = os.environ.get("NODETRAIL_FIXTURES") or os.path.join(ROOT, "tests", "data", "fixtures")
    with open(os.path.join(fixtures, "k8s-objects", "pod-oomkilled-laststate.json")) as f:
        return json.load(f)


def pod(tpl, i, node):
    p = copy.deepcopy(tpl)
    p["metadata"].update({"name": f"app-{i}", "namespace": "shop", "uid": f"00000000-0000-4000-8000-{i:012d}"})
    p["metadata"].pop("resourceVersion", None)
    p["spec"]["nodeName"] = node
    return p


def counters(api):
    return api.counters["requests"], api.counters["bytes"]


def main():
    d = tempfile.mkdtemp(prefix="nodetrail-apibench-")
    api = KubeAPI(d, bookmark_interval=60, chunk_split=0)
    tpl = template_pod()
    api.upsert("nodes", {"metadata": {"name": NODE, "labels": {"eks.amazonaws.com/capacityType": "ON_DEMAND"}},
                         "spec": {}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    for i in range(PODS_IN_CLUSTER):
        api.upsert("pods", pod(tpl, i, NODE if i < PODS_ON_NODE else f"ip-10-0-9-{i % 250}.ec2.internal"))
    pod_bytes = len(json.dumps(pod(tpl, 0, NODE)))
    agent = Agent("--bpf", "off", "--imds", "off", "--api", "on", "--api-server", api.url, "--token-file",
                  api.token_file, "--ca-file", api.ca_file, "--status-interval", "1", "--log-level", "info",
                  node=NODE)
    r0, b0 = counters(api)
    agent.start()
    agent.wait_for(lambda r: r["type"] == "agent.status" and r["agent"]["api"].get("synced"), timeout=30,
                   what="synced")
    r1, b1 = counters(api)
    print(f"initial sync: {r1 - r0} requests, {(b1 - b0) / 1024:.0f} KiB "
          f"({PODS_ON_NODE} of {PODS_IN_CLUSTER} pods are on this node; one pod is {pod_bytes} bytes)",
          file=sys.stderr)

    # idle window: bookmarks only
    time.sleep(WINDOW_S)
    r2, b2 = counters(api)
    idle_bytes_per_hour = (b2 - b1) * 3600 / WINDOW_S

    # one pod lifecycle on this node: add, run, delete
    for i in range(5):
        p = pod(tpl, 100000 + i, NODE)
        api.upsert("pods", p)
        p["status"]["phase"] = "Running"
        api.upsert("pods", p)
        api.delete("pods", "shop", p["metadata"]["name"])
    time.sleep(2)
    r3, b3 = counters(api)
    lifecycle_bytes = (b3 - b2) / 5

    # CPU per 1,000 watch events: a burst of pod updates
    pid = agent.proc.pid
    c0 = cpu_s(pid)
    p = pod(tpl, 0, NODE)
    t0 = time.time()
    for i in range(EVENTS):
        p["metadata"].setdefault("annotations", {})["bench"] = str(i)
        api.upsert("pods", p)
    target = EVENTS
    deadline = time.time() + 60
    while time.time() < deadline:
        st = [r for r in agent.records() if r["type"] == "agent.status"][-1]["agent"]["api"]
        if st["streams"]["pods"]["events"] >= target:
            break
        time.sleep(0.2)
    cpu_per_1000 = (cpu_s(pid) - c0) / EVENTS * 1000
    burst_s = time.time() - t0
    rc, _ = agent.stop()
    api.close()
    shutil.rmtree(d, ignore_errors=True)

    rewatch_per_hour = 3 * 3600 / WATCH_TIMEOUT_AVG_S
    node_obj_bytes = 4000
    node_hour = idle_bytes_per_hour + CHURN_PER_HOUR * lifecycle_bytes + NODE_UPDATES_PER_HOUR * node_obj_bytes
    reqs_hour = rewatch_per_hour
    cluster_watcher = (1000 * CHURN_PER_HOUR * lifecycle_bytes) + 1000 * NODE_UPDATES_PER_HOUR * node_obj_bytes
    result = {
        "initial_sync": {"requests": r1 - r0, "bytes": b1 - b0},
        "idle_bytes_per_hour": idle_bytes_per_hour,
        "bytes_per_pod_lifecycle": lifecycle_bytes,
        "agent_cpu_ms_per_1000_watch_events": cpu_per_1000 * 1000,
        "burst_events_per_s": EVENTS / burst_s,
        "model": {"churn_per_hour": CHURN_PER_HOUR, "node_updates_per_hour": NODE_UPDATES_PER_HOUR,
                  "node_object_bytes": node_obj_bytes, "watch_timeout_avg_s": WATCH_TIMEOUT_AVG_S},
        "per_node_hour": {"requests": reqs_hour, "bytes": node_hour},
        "nodes_1000_hour": {"requests": 1000 * reqs_hour, "bytes": 1000 * node_hour},
        "one_cluster_wide_watcher_hour": {"bytes": cluster_watcher},
        "agents_1000_unscoped_hour": {"bytes": 1000 * cluster_watcher},
    }
    os.makedirs(os.path.join(ROOT, "build", "bench"), exist_ok=True)
    with open(os.path.join(ROOT, "build", "bench", "api_cost.json"), "w") as f:
        json.dump(result, f, indent=2)
    mib = 1024 * 1024
    print(f"API cost of one agent, {time.strftime('%Y-%m-%d')}, stand-in API server, "
          f"{PODS_ON_NODE} pods on the node of {PODS_IN_CLUSTER} in the cluster\n")
    print("| measured | value |\n| --- | ---: |")
    print(f"| initial sync (3 lists, 3 watches opened) | {r1 - r0} requests, {(b1 - b0) / 1024:.0f} KiB |")
    print(f"| idle watches (bookmarks), per hour | {idle_bytes_per_hour / 1024:.1f} KiB |")
    print(f"| one pod lifecycle on the node (add, run, delete) | {lifecycle_bytes / 1024:.1f} KiB |")
    print(f"| agent CPU per 1,000 watch events | {cpu_per_1000 * 1000:.1f} ms |")
    print()
    print(f"| computed per hour ({CHURN_PER_HOUR} pod lifecycles and {NODE_UPDATES_PER_HOUR} node status "
          f"writes per node, watches renewed every {WATCH_TIMEOUT_AVG_S} s on average) | requests | bytes |")
    print("| --- | ---: | ---: |")
    print(f"| one node | {reqs_hour:.0f} | {node_hour / mib:.2f} MiB |")
    print(f"| 1,000 nodes | {1000 * reqs_hour:.0f} | {1000 * node_hour / mib:.0f} MiB |")
    print(f"| one cluster-wide watcher of all pods and nodes | 8 | {cluster_watcher / mib:.0f} MiB |")
    print(f"| 1,000 agents each watching all pods and nodes (what node scoping avoids) | {1000 * 8} | "
          f"{1000 * cluster_watcher / mib:.0f} MiB |")
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
