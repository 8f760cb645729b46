"""One day of a realistic EKS node, compressed: what nodetrail writes in a day, per type, and the bytes a
node ships a day (CRI prefix included), checked against a golden list of the day's facts.

The day: 30 pods (aws-node with its two exec probes on one argv, kube-proxy, two CoreDNS, ebs-csi-node,
the CloudWatch agent, Fluent Bit, 23 application pods); one application container restart an hour (24:
12 crash with exit code 1, 12 are liveness kills: the exec probe fails 3 times in a row, then the
runtime's SIGTERM, and the kubelet's Unhealthy and Killing events); one kubelet eviction (memory
pressure); one kubectl exec session; one Karpenter consolidation of the node, cancelled; and at the end
of the day one spot interruption that drains the node. Everything happens for real (runc containers in
kubelet cgroups, the stand-in API server, IMDS), back to back. aws-node's probes run for a measured
stretch (PROBE_RUNS runc execs, default 240) and their records are scaled to the day's 17,280 runs;
agent.status counts at its default cadence (hourly: 24 a day). JSON to build/bench/node_day.json.
CHECK=1: exit 1 unless every fact is there exactly once with its cause and the day fits 2 MB.
"""
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "tests", "fakeapi"))
os.environ.setdefault("NODETRAIL_AGENT", os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/nodetrail"))
import containers  # noqa: E402
from agent import LINE_RE, Agent, missing_prerequisite  # noqa: E402
from imds import IMDS  # noqa: E402
from kubeapi import KubeAPI  # noqa: E402

NODE = "ip-10-0-7-42.ec2.internal"
CHECK = os.environ.get("CHECK") == "1"
PROBE_RUNS = int(os.environ.get("PROBE_RUNS", "240"))
PROBES_A_DAY = 2 * 24 * 3600 // 10          # aws-node: liveness and readiness, every 10 s
STATUS_A_DAY = 24                            # agent.status at its default --status-interval (3600 s)
BUDGET = 2 * 1000 * 1000
GRPC_PROBE = ["/app/grpc-health-probe", "-addr=unix:///var/run/aws-node/ipamd.sock", "-connect-timeout=5s",
              "-rpc-timeout=5s"]
LIVENESS = ["/bin/sh", "-c", "exit 1"]        # the liveness-killed pods' probe: it fails
APPS = 23


def now(delta=0):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + delta))


def grpc_health_probe(rootfs):
    """A static binary that exits 0, where aws-node keeps grpc-health-probe: the probe's argv, exec'd as is."""
    src = os.path.join(rootfs.dir, "probe.c")
    os.makedirs(os.path.join(rootfs.dir, "app"), exist_ok=True)
    with open(src, "w") as f:
        f.write("int main(void) { return 0; }\n")
    subprocess.run(["cc", "-static", "-Os", "-o", os.path.join(rootfs.dir, "app", "grpc-health-probe"), src],
                   check=True)


class Day:
    def __init__(self, tmp):
        self.api = KubeAPI(tmp, bookmark_interval=5)
        self.imds = IMDS()
        self.rootfs = containers.Rootfs()
        grpc_health_probe(self.rootfs)
        self.started = []
        self.pods = {}
        self.api.upsert("nodes", self.node())

    def node(self, taints=()):
        return {"metadata": {"name": NODE, "uid": "node-uid-7", "labels": {
            "eks.amazonaws.com/capacityType": "SPOT", "eks.amazonaws.com/nodegroup": "ng-spot",
            "node.kubernetes.io/instance-type": "m5.large", "topology.kubernetes.io/zone": "us-east-1a"}},
            "spec": {"taints": list(taints)},
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "lastTransitionTime": now(-86400)}]}}

    def pod(self, name, ns, uid, owner, spec, status, meta=None):
        m = {"name": name, "namespace": ns, "uid": uid, "ownerReferences": [{"kind": owner, "name": name[:-5]}]}
        m.update(meta or {})
        p = {"metadata": m, "spec": dict({"nodeName": NODE, "terminationGracePeriodSeconds": 30}, **spec),
             "status": dict({"phase": "Running", "qosClass": "Burstable",
                             "conditions": [{"type": "PodScheduled", "status": "True",
                                             "lastTransitionTime": now(-600)},
                                            {"type": "Ready", "status": "True", "lastTransitionTime": now(-590)}]},
                            **status)}
        self.pods[(ns, name)] = p
        self.api.upsert("pods", p)
        return p

    def container(self, args, uid):
        c = containers.Container(self.rootfs, args, pod_uid=uid)
        self.started.append(c)
        return c

    def close(self):
        for c in self.started:
            c.remove()
        self.api.close()
        self.imds.close()
        self.rootfs.remove()


def running(name, cid, restarts=0, last=None):
    s = {"name": name, "containerID": "containerd://" + cid, "restartCount": restarts, "state": {"running": {}}}
    if last:
        s["lastState"] = {"terminated": last}
    return {"containerStatuses": [s]}


def detail(r):
    """the record's own part: `api`, or `imds` when IMDS told it"""
    return r.get("api") or r.get("imds") or {}


def fake_id():
    return uuid.uuid4().hex + uuid.uuid4().hex


def main():
    why = missing_prerequisite()
    if why:
        print(f"node_day: skipped: {why}")
        return 1 if CHECK and os.environ.get("REQUIRE_BPF") == "1" else 0
    containers.cleanup_stale()
    containers.kubelet_roots()
    tmp = tempfile.mkdtemp(prefix="nodetrail-nodeday-")
    day = Day(tmp)
    agent = Agent("--api", "on", "--api-server", day.api.url, "--token-file", day.api.token_file, "--ca-file",
                  day.api.ca_file, "--imds", "on", "--imds-endpoint", day.imds.url, "--imds-poll", "1",
                  "--status-interval", "3600", "--log-level", "info", node=NODE)
    facts = {}
    try:
        agent.start()
        # ---- the node's pods: DaemonSets, CoreDNS, the applications ----
        aws_uid = str(uuid.uuid4())
        aws = day.container(["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.5; done"], aws_uid)
        probe = {"exec": {"command": GRPC_PROBE}, "initialDelaySeconds": 60, "timeoutSeconds": 10}
        day.pod("aws-node-x7k2p", "kube-system", aws_uid, "DaemonSet",
                {"containers": [{"name": "aws-node", "image": "amazon-k8s-cni:v1.19.2", "livenessProbe": probe,
                                 "readinessProbe": dict(probe, initialDelaySeconds=1)}]},
                running("aws-node", aws.id))
        aws.start()
        for name, ns, owner, ctr in (("kube-proxy-9f2lq", "kube-system", "DaemonSet", "kube-proxy"),
                                     ("coredns-5d8f7-abcde", "kube-system", "ReplicaSet", "coredns"),
                                     ("coredns-5d8f7-fghij", "kube-system", "ReplicaSet", "coredns"),
                                     ("ebs-csi-node-q8w7e", "kube-system", "DaemonSet", "ebs-plugin"),
                                     ("cloudwatch-agent-p4s9d", "amazon-cloudwatch", "DaemonSet", "cloudwatch-agent"),
                                     ("fluent-bit-z2x8c", "amazon-cloudwatch", "DaemonSet", "fluent-bit")):
            day.pod(name, ns, str(uuid.uuid4()), owner, {"containers": [{"name": ctr, "image": ctr + ":1"}]},
                    running(ctr, fake_id()))
        apps = []
        for i in range(APPS):
            uid, name = str(uuid.uuid4()), f"shop-{i:02d}-7c9d8"
            spec = {"containers": [{"name": "app", "image": "shop/app:2.3",
                                    "livenessProbe": {"exec": {"command": LIVENESS}, "periodSeconds": 10,
                                                      "failureThreshold": 3}}]} if i % 2 else \
                {"containers": [{"name": "app", "image": "shop/app:2.3"}]}
            day.pod(name, "shop", uid, "ReplicaSet", spec, running("app", fake_id()))
            apps.append((name, uid, spec))
        time.sleep(2)
        # ---- aws-node's probes: a measured stretch of the day's 17,280 ----
        before = len(agent.lines())
        t0 = time.time()
        for i in range(PROBE_RUNS):
            if aws.exec(GRPC_PROBE).returncode != 0:
                raise SystemExit("node_day: aws-node's probe failed")
        probe_s = time.time() - t0
        time.sleep(1)
        probe_lines = agent.lines()[before:]
        # ---- 24 application restarts, one an hour: 12 crashes, 12 liveness kills ----
        restarts = {"crash": [], "liveness": []}
        for h in range(24):
            name, uid, spec = apps[h % 22]
            kill = h % 2 == 1
            if kill != bool(spec["containers"][0].get("livenessProbe")):
                name, uid, spec = apps[(h + 1) % 22]
            c = day.container(["sh", "-c", "sleep 0.3; exit 1"] if not kill else
                              ["sh", "-c", "trap 'exit 143' TERM; while :; do sleep 0.1; done"], uid)
            p = day.pod(name, "shop", uid, "ReplicaSet", spec, running("app", c.id, restarts=h))
            c.start()
            if kill:
                time.sleep(0.3)
                for _ in range(3):
                    c.exec(LIVENESS)
                for ev, kind, msg in (("unhealthy", "Warning", "Liveness probe failed: "),
                                      ("killing", "Normal", "Container app failed liveness probe, will be restarted")):
                    day.api.upsert("events", {
                        "metadata": {"name": f"{name}.{ev}{h}", "namespace": "shop", "uid": str(uuid.uuid4())},
                        "involvedObject": {"kind": "Pod", "name": name, "namespace": "shop", "uid": uid,
                                           "fieldPath": "spec.containers{app}"},
                        "reason": ev.capitalize(), "type": kind, "message": msg, "count": 3 if kind == "Warning" else 1,
                        "source": {"component": "kubelet", "host": NODE}, "firstTimestamp": now(),
                        "lastTimestamp": now()})
                c.kill("TERM")
            c.wait()
            code = 143 if kill else 1
            day.pod(name, "shop", uid, "ReplicaSet", spec, running("app", fake_id(), restarts=h + 1, last={
                "exitCode": code, "reason": "Error", "containerID": "containerd://" + c.id, "finishedAt": now(),
                "startedAt": now(-1)}))
            restarts["liveness" if kill else "crash"].append(c.id)
            c.remove()
        # the kubelet's events of the liveness kills, listed at each restart: at most 10 lists a minute
        # node-wide, so a compressed day's burst of 12 waits for the next minute, as a real one would
        t0 = time.time()
        while time.time() - t0 < 150 and sum(1 for r in agent.records() if r["type"] == "pod.event") < 24:
            time.sleep(1)
        # ---- a person's kubectl exec session ----
        aws.exec(["sh", "-c", "echo checking the CNI"])
        # ---- a kubelet eviction under memory pressure ----
        name, uid, spec = apps[22]
        evicted = day.pod(name, "shop", uid, "ReplicaSet", spec, {
            "phase": "Failed", "reason": "Evicted",
            "message": "The node was low on resource: memory. Threshold quantity: 100Mi, available: 92Mi.",
            "conditions": [{"type": "DisruptionTarget", "status": "True", "reason": "TerminationByKubelet",
                            "message": "The node was low on resource: memory."}]})
        time.sleep(0.5)
        day.api.delete("pods", "shop", evicted["metadata"]["name"])
        # ---- a Karpenter consolidation of the node, cancelled ----
        day.api.upsert("nodes", day.node([{"key": "karpenter.sh/disrupted", "effect": "NoSchedule"}]))
        day.api.upsert("events", {
            "metadata": {"name": NODE + ".disrupt", "namespace": "default", "uid": "karp-disrupt-1"},
            "involvedObject": {"kind": "Node", "name": NODE}, "reason": "DisruptionTerminating", "type": "Normal",
            "message": "Disrupting Node: Underutilized", "source": {"component": "karpenter"}, "count": 1,
            "firstTimestamp": now(), "lastTimestamp": now()})
        time.sleep(2)
        day.api.upsert("nodes", day.node())
        time.sleep(1)
        # ---- the end of the day: a spot interruption drains the node ----
        deadline = time.time() + 40
        day.imds.set_spot_action("terminate", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(deadline)))
        day.api.upsert("nodes", day.node([{"key": "aws-node-termination-handler/spot-itn", "value": "spot-itn-1f2e",
                                           "effect": "NoSchedule"}]))
        agent.wait_for(lambda r: r["type"] == "node.interruption" and detail(r)["kind"] == "spot_interruption",
                       timeout=10, what="the spot interruption")
        drained = [(n, ns) for (ns, n), p in day.pods.items()
                   if p["metadata"]["ownerReferences"][0]["kind"] != "DaemonSet" and (ns, n) != ("shop", name)]
        for n, ns in drained:
            p = day.pods[(ns, n)]
            p["metadata"].update({"deletionTimestamp": now(), "deletionGracePeriodSeconds": 30})
            p["status"]["conditions"].append({"type": "DisruptionTarget", "status": "True",
                                              "reason": "EvictionByEvictionAPI", "message": "Eviction API: evicting"})
            day.api.upsert("pods", p)
            day.api.delete("pods", ns, n)
        agent.wait_for(lambda r: r["type"] == "node.drain_report", timeout=15, what="the drain report")
        time.sleep(1)
        rc, _ = agent.stop()
        if rc != 0:
            raise SystemExit(f"node_day: the agent exited with {rc}")
        lines = []
        for path in sorted(glob.glob(os.path.join(agent.out, "*.log*"))):
            with open(path) as f:
                lines += f.read().splitlines()
    finally:
        if agent.proc and agent.proc.poll() is None:
            agent.proc.kill()
        day.close()

    recs = [(json.loads(LINE_RE.match(line).group(2)), len(line) + 1) for line in lines]
    stop = [r for r, _ in recs if r["type"] == "agent.status"][-1]["agent"]
    # ---- the golden list: each fact once, with its cause ----
    def only(pred):
        return [r for r, _ in recs if pred(r)]

    checks = []

    def fact(what, got, want):
        checks.append((what, got, want))

    exited = {r["container"]["id"]: r for r in only(lambda r: r["type"] == "container.exited")}
    fact("crashes: container.exited, exit code 1 on both sides",
         sum(1 for c in restarts["crash"] if exited.get(c, {}).get("kernel", {}).get("exit_code") == 1
             and exited[c].get("api", {}).get("exit_code") == 1), 12)
    fact("liveness kills: container.exited naming the liveness probe",
         sum(1 for c in restarts["liveness"]
             if exited.get(c, {}).get("kernel", {}).get("killed_for_probe", {}).get("probe") == "liveness probe"), 12)
    fact("container.exited records, one per restart",
         len(only(lambda r: r["type"] == "container.exited")), 24)
    fact("the kubectl exec session", len(only(lambda r: r["type"] == "container.exec")), 1)
    fact("aws-node's probe runs recorded as container.exec", sum(1 for l in probe_lines if "container.exec" in l), 0)
    fact("aws-node's probe runs counted", stop.get("exec_probe_runs", 0) >= PROBE_RUNS + 36, True)
    fact("the kubelet eviction: pod.terminated evicted", len(only(
        lambda r: r["type"] == "pod.terminated" and r["api"].get("cause") == "evicted")), 1)
    fact("the drained pods: pod.terminated spot_interruption", len(only(
        lambda r: r["type"] == "pod.terminated" and r["api"].get("cause") == "spot_interruption")), len(drained))
    fact("the Karpenter consolidation: opened, then ended (withdrawn)", [
        detail(r)["transition"] for r in only(lambda r: r["type"] == "node.interruption"
                                              and detail(r)["kind"] == "karpenter_disruption")],
         ["opened", "updated", "ended"])
    fact("the spot interruption: opened once", len(only(
        lambda r: r["type"] == "node.interruption" and detail(r)["kind"] == "spot_interruption"
        and detail(r)["transition"] == "opened")), 1)
    fact("the drain report, before the deadline", len(only(
        lambda r: r["type"] == "node.drain_report" and r["drain"]["page"] == 1 and not r["drain"]["final"])), 1)
    fact("the kubelet's Unhealthy and Killing of the liveness kills (pod.event)", len(only(
        lambda r: r["type"] == "pod.event" and r["api"]["reason"] in ("Unhealthy", "Killing"))), 24)
    # ---- a day's bytes: what happened once, the probes scaled, agent.status at its cadence ----
    per_type = {}
    for r, n in recs:
        t = per_type.setdefault(r["type"], [0, 0])
        t[0] += 1
        t[1] += n
    status_n, status_b = per_type.pop("agent.status", [0, 0])
    per_type["agent.status"] = [STATUS_A_DAY, round(status_b / max(status_n, 1) * STATUS_A_DAY)]
    probe_bytes = sum(len(l) + 1 for l in probe_lines)
    per_type["(probe runs, scaled)"] = [round(len(probe_lines) * PROBES_A_DAY / PROBE_RUNS),
                                        round(probe_bytes * PROBES_A_DAY / PROBE_RUNS)]
    total = sum(b for _, b in per_type.values())
    problems = [f"{what}: {got!r}, want {want!r}" for what, got, want in checks if got != want]
    if total > BUDGET:
        problems.append(f"{total} bytes a day, over the {BUDGET} budget")
    os.makedirs("build/bench", exist_ok=True)
    with open("build/bench/node_day.json", "w") as f:
        json.dump({"per_type": per_type, "bytes_a_day": total, "probe_runs": PROBE_RUNS,
                   "probe_runs_per_s": PROBE_RUNS / probe_s, "facts": checks, "problems": problems}, f, indent=1)
    print(f"\nOne day of a node ({len(day.pods)} pods, {PROBES_A_DAY} exec probe runs, 24 restarts, an eviction, "
          f"an exec, a consolidation, a spot interruption), kernel {os.uname().release}, {time.strftime('%Y-%m-%d')}\n")
    print("| record type | records a day | bytes a day |")
    print("| --- | ---: | ---: |")
    for t in sorted(per_type, key=lambda t: -per_type[t][1]):
        print(f"| {t} | {per_type[t][0]} | {per_type[t][1]} |")
    print(f"| **total** | {sum(n for n, _ in per_type.values())} | **{total}** |")
    print(f"\nbudget: {total / 1e6:.2f} MB of {BUDGET / 1e6:.0f} MB a day: " + ("met" if total <= BUDGET else "MISSED"))
    print(f"probe stretch: {PROBE_RUNS} runc execs of aws-node's probe in {probe_s:.1f} s, "
          f"{len(probe_lines)} records; the agent counted {stop.get('exec_probe_runs')} probe runs")
    for what, got, want in checks:
        print(f"  {'ok  ' if got == want else 'FAIL'} {what}: {got}")
    if problems:
        print("node_day: " + ("FAIL: " if CHECK else "") + "; ".join(problems))
        return 1 if CHECK else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
