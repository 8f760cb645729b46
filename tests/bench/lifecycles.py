"""The whole agent's memory over 10,000 pod lifecycles, on the real kernel and the stand-in API server.

One agent (eBPF on, API on, defaults otherwise: record files rotated at 10 MiB, 5 kept, a checkpoint every
2 s) on a node with 110 standing pods, then LIFECYCLES more pods one after another, each as a kubelet
would make it: the pod in the API (Running, its container id), the pod and container cgroups in every
hierarchy (kubelet's cgroupfs layout), a process placed in the container cgroup that execs and exits
with code 3, the API's terminated status, the pod deleted, the cgroups removed. Nothing is synthesised:
the probes, the ring buffer, the cgroup map, the watches, the node state, the correlator, the dedup
window and the writer all take part.

Reports the agent's RSS (and the private part of it, RssAnon) idle, with 110 pods, and every 1,000
lifecycles; the ratio of the last figure to the one after 1,000 lifecycles (flat: no growth with the
count of pods seen); the highest RSS sampled (every 100 lifecycles); and the share of lifecycles that got
a complete joined container.exited (kernel and API, exit code 3 on both sides). JSON to
build/bench/lifecycles.json. LIFECYCLES (default 10000) and PODS (110) override.
"""
import json
import os
import secrets
import shutil
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
from kubeapi import KubeAPI  # noqa: E402
from benchutil import free_port, memory_kib, metrics, settled_kib  # noqa: E402

TARGET_KIB = 16 * 1024  # the RSS target: 16 MiB with 110 pods and after 10,000 lifecycles
CHECK = os.environ.get("CHECK") == "1"  # CI: exit 1 unless every lifecycle is complete, RSS flat and on target
LIFECYCLES = int(os.environ.get("LIFECYCLES", "10000"))
PODS = int(os.environ.get("PODS", "110"))
NODE = "ip-10-0-1-23.ec2.internal"
BUSYBOX = shutil.which("busybox") or "/bin/busybox"


def window_ids(port):
    """The dedup window's fill, from the agent's /metrics."""
    return int(metrics(port)["nodetrail_dedup_window_ids"])


def pod(uid, name, cid, state):
    return {"metadata": {"name": name, "namespace": "bench", "uid": uid,
                         "ownerReferences": [{"kind": "Job", "name": name}]},
            "spec": {"nodeName": NODE, "restartPolicy": "Never",
                     "containers": [{"name": "app", "image": "bench/app:1"}]},
            "status": {"phase": "Running" if "running" in state else "Failed", "qosClass": "BestEffort",
                       "containerStatuses": [{"name": "app", "containerID": "containerd://" + cid,
                                              "restartCount": 0, "state": state}]}}


class Cgroups:
    """A pod's and its container's cgroups in every mounted hierarchy (kubelet cgroupfs layout)."""

    def __init__(self, uid, cid):
        rel = containers.cgroups_path("cgroupfs", "besteffort", uid, cid)
        self.dirs = [os.path.join(h, rel.lstrip("/")) for h in containers.hierarchies()]
        for d in self.dirs:
            os.makedirs(d)

    def run(self, code):
        """A process that joins the container cgroups, then execs and exits with code."""
        procs = [os.path.join(d, "cgroup.procs") for d in self.dirs]
        script = 'for f; do echo $$ 2>/dev/null > "$f"; done; exec ' + BUSYBOX + f' sh -c "exit {code}"'
        return subprocess.run([BUSYBOX, "sh", "-c", script, "sh"] + procs).returncode

    def remove(self):
        for d in self.dirs:
            for path in (d, os.path.dirname(d)):
                for _ in range(50):
                    try:
                        os.rmdir(path)
                        break
                    except FileNotFoundError:
                        break
                    except OSError:
                        time.sleep(0.01)


LINES = {}  # container id -> the line of an incomplete record, to show


def exits_seen(agent, seen):
    """Note every container.exited in the record files in seen: id -> "complete" (joined, exit code 3 on
    both sides) or what it lacked."""
    lines = []
    for name in sorted(os.listdir(agent.out)):  # the active file and the rotated ones
        with open(os.path.join(agent.out, name)) as f:
            lines += f.read().splitlines()
    for line in lines:
        if '"container.exited"' not in line:
            continue
        rec = json.loads(LINE_RE.match(line).group(2))
        k, a = rec.get("kernel", {}), rec.get("api", {})
        if rec["sources"] == ["kernel", "api"] and k.get("exit_code") == 3 and a.get("exit_code") == 3:
            seen[rec["container"]["id"]] = "complete"
        elif seen.get(rec["container"]["id"]) != "complete":
            seen[rec["container"]["id"]] = "+".join(rec["sources"]) + f" exit {k.get('exit_code')}/{a.get('exit_code')}"
            LINES[rec["container"]["id"]] = line


def main():
    why = missing_prerequisite()
    if why:
        print(f"lifecycles: skipped: {why}")
        return 1 if CHECK and os.environ.get("REQUIRE_BPF") == "1" else 0
    containers.kubelet_roots()
    tmp = tempfile.mkdtemp(prefix="nodetrail-lifecycles-")
    api = KubeAPI(tmp, bookmark_interval=60)
    api.upsert("nodes", {"metadata": {"name": NODE}, "spec": {}, "status": {}})
    port = free_port()
    agent = Agent("--api", "on", "--api-server", api.url, "--token-file", api.token_file, "--ca-file",
                  api.ca_file, "--imds", "off", "--status-interval", "60", "--metrics-addr", f"127.0.0.1:{port}",
                  node=NODE).start()
    standing, samples, seen, ids, timing = [], [], {}, [], {}
    out = {}
    try:
        time.sleep(2)
        out["idle"] = memory_kib(agent.proc.pid)
        for i in range(PODS):
            uid, cid = str(uuid.uuid4()), secrets.token_hex(32)
            standing.append(Cgroups(uid, cid))
            api.upsert("pods", pod(uid, f"standing-{i}", cid, {"running": {}}))
        time.sleep(3)
        out["pods"] = memory_kib(agent.proc.pid)
        t0 = time.time()
        for n in range(1, LIFECYCLES + 1):
            uid, cid, name = str(uuid.uuid4()), secrets.token_hex(32), f"job-{n}"
            api.upsert("pods", pod(uid, name, cid, {"running": {}}))
            cg = Cgroups(uid, cid)
            code = cg.run(3)
            ran = time.time()
            api.upsert("pods", pod(uid, name, cid, {"terminated": {"exitCode": code, "reason": "Error"}}))
            api.delete("pods", "bench", name)
            cg.remove()
            ids.append(cid)
            timing[cid] = (ran - t0, time.time() - ran)
            if n % 1000 == 0:
                # the flatness check compares these: what is kept, not a checkpoint's moment
                samples.append((n,) + settled_kib(agent.proc.pid) + (window_ids(port),))
            elif n % 100 == 0:
                samples.append((n,) + memory_kib(agent.proc.pid) + (0,))
            if n % 1000 == 0:
                exits_seen(agent, seen)  # before rotation drops the oldest files
                print(f"lifecycles: {n} done, {n / (time.time() - t0):.0f}/s, RSS {samples[-1][1]} KiB", flush=True)
        took = time.time() - t0
        time.sleep(6)  # the join window and the last checkpoint
        exits_seen(agent, seen)
        out["end"] = memory_kib(agent.proc.pid)
        rc, _ = agent.stop()
        stopped = [r["agent"] for r in agent.records() if r["type"] == "agent.status"][-1]
        if rc != 0:
            raise SystemExit("lifecycles: the agent exited with %d: %s" % (rc, agent.log()[-2000:]))
    finally:
        if agent.proc.poll() is None:
            agent.stop()
        for cg in standing:
            cg.remove()
        api.close()
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(agent.tmp, ignore_errors=True)  # 60 MB of records
    complete = sum(1 for c in ids if seen.get(c) == "complete")
    lacking = {}
    for c in ids:
        if seen.get(c) != "complete":
            lacking[seen.get(c, "no record")] = lacking.get(seen.get(c, "no record"), 0) + 1
    thousands = [s for s in samples if s[0] % 1000 == 0]
    first = thousands[0] if thousands else samples[0]
    last = thousands[-1] if thousands else samples[-1]
    peak = max(samples + [(LIFECYCLES, out["end"][0], out["end"][1], 0)], key=lambda s: s[1])
    result = {"lifecycles": LIFECYCLES, "standing_pods": PODS, "seconds": took,
              "rss_kib": {"idle": out["idle"][0], "pods": out["pods"][0], "end": out["end"][0],
                          "peak": peak[1], "every_1000": {s[0]: s[1] for s in thousands}},
              "anon_kib": {"idle": out["idle"][1], "pods": out["pods"][1], "end": out["end"][1],
                           "every_1000": {s[0]: s[2] for s in thousands}},
              "dedup_window_ids": {s[0]: s[3] for s in thousands},
              "flat_ratio": last[1] / first[1], "complete": complete, "incomplete": lacking,
              "agent_stopped": stopped}
    os.makedirs("build/bench", exist_ok=True)
    with open("build/bench/lifecycles.json", "w") as f:
        json.dump(result, f, indent=1)
    print(f"\nWhole agent over {LIFECYCLES} pod lifecycles ({PODS} standing pods, eBPF + API on, "
          f"{LIFECYCLES / took:.0f} lifecycles/s), kernel {os.uname().release}, {time.strftime('%Y-%m-%d')}\n")
    print("| point | RSS KiB | private (RssAnon) KiB | dedup window ids |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| idle (no pods) | {out['idle'][0]} | {out['idle'][1]} | |")
    print(f"| {PODS} pods | {out['pods'][0]} | {out['pods'][1]} | |")
    for s in thousands:
        print(f"| after {s[0]} lifecycles | {s[1]} | {s[2]} | {s[3]} |")
    print(f"\nflat: RSS after {last[0]} / after {first[0]} lifecycles = {last[1] / first[1]:.3f}; "
          f"highest sampled {peak[1]} KiB (after {peak[0]}); complete joined container.exited: "
          f"{complete}/{len(ids)}")
    problems = []
    if complete != len(ids):
        problems.append(f"{len(ids) - complete} lifecycles without a complete record")
    if last[1] / first[1] > 1.10:
        problems.append(f"RSS grew {last[1] / first[1]:.3f}x from {first[0]} to {last[0]} lifecycles")
    if max(peak[1], out["pods"][0]) > TARGET_KIB:
        problems.append(f"RSS {max(peak[1], out['pods'][0])} KiB is over the {TARGET_KIB} KiB target")
    w = stopped.get("dedup_window", {})
    print(f"dedup window at the end: {w.get('ids')} of {w.get('cap')} record ids (it grows, 24 bytes an id, "
          f"until the cap, then forgets the oldest: {w.get('forgotten')} forgotten)")
    print(f"RSS target (<= {TARGET_KIB // 1024} MiB with {PODS} pods and through {LIFECYCLES} lifecycles): "
          + ("met" if not any("target" in p for p in problems) else "MISSED"))
    if lacking:
        missing = [i + 1 for i, c in enumerate(ids) if seen.get(c) != "complete"]
        print(f"incomplete: {lacking}, lifecycles {missing[0]}..{missing[-1]}; the agent's last status: "
              f"{json.dumps(stopped)}")
        for c in [c for c in ids if seen.get(c) != "complete"][:5]:
            at, took_api = timing[c]
            print(f"incomplete lifecycle: exited {at:.3f} s into the run, its API updates took {took_api * 1000:.1f} ms "
                  f"to queue; record: {LINES.get(c, 'none')}")
    if CHECK and problems:
        print("lifecycles: FAIL: " + "; ".join(problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
