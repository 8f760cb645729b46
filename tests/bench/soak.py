"""A long uptime in minutes: LIFECYCLES (default 100,000) pod lifecycles through the whole agent, with the
faults a node sees over months, then whether what the agent holds about live objects is back where it was.

The lifecycles are lifecycles.py's (the pod in the stand-in API server, here Running and Ready; its cgroups
in every hierarchy; a process in them that execs and exits with code 3; the terminated status; the
deletion; the cgroups removed), on a node with PODS (110) standing pods, the agent's ring buffer
RINGBUF_KIB (16) KiB. Along the way:
  relists    every RELIST_EVERY (5,000) lifecycles: GONE (20) more pods, once the agent has them, are
             deleted (and their cgroups removed) while the API server holds its watch events back; then
             every watch ends with a 410, the agent relists and must find them gone (missed deletions);
  overflows  every BURST_EVERY (5,000), half-way between relists: BURST (200) lifecycles while the agent
             is stopped (SIGSTOP), once their cgroup_mkdir events are read: their exec, exit and
             cgroup_rmdir events overflow the ring buffer, and the cgroups whose rmdir was lost must be
             forgotten by the reconcile (every 60 s);
  restarts   every RESTART_EVERY (25,000): GONE more pods, once the agent has them, then SIGTERM, the pods
             deleted and their cgroups removed while it is down, and the agent started again on the same
             state and output directories.
Measured from /proc and /metrics with the standing pods (the baseline), every EVERY (10,000) lifecycles,
and at the end after QUIET (130) s without pods, so that the reconcile runs twice (a cgroup is forgotten when two passes a minute apart find it gone): RSS, open fds and every table
of live objects. CHECK=1: exit 1 unless, at the end, every table is at its baseline, no bounded set reached
its cap, RSS is within 10% of that after the first 10,000 lifecycles, the fds are as many as at the
baseline, and every fault did happen. JSON to build/bench/soak.json; KEEP=1 keeps the agent's directory.
"""
import glob
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

from lifecycles import LINE_RE, NODE, Agent, Cgroups, KubeAPI, containers, missing_prerequisite, pod
from benchutil import free_port, memory_kib, metrics, open_fds

CHECK = os.environ.get("CHECK") == "1"
KNOBS = {}


def knob(name, default):
    KNOBS[name] = int(os.environ.get(name, default))
    return KNOBS[name]


LIFECYCLES, PODS, EVERY = knob("LIFECYCLES", 100000), knob("PODS", 110), knob("EVERY", 10000)
RELIST_EVERY, BURST_EVERY, BURST = knob("RELIST_EVERY", 5000), knob("BURST_EVERY", 5000), knob("BURST", 200)
RESTART_EVERY, GONE = knob("RESTART_EVERY", 25000), knob("GONE", 20)
RINGBUF_KIB, QUIET = knob("RINGBUF_KIB", 16), knob("QUIET", 130)
TABLES = {"containers": "tracked_containers", "cgroups": "tracked_cgroups", "series": "series",
          "started": "started_followed", "pending": "pending_records", "api_pods": "api_pods",
          "troubled_pods": "pod_events_troubled_pods"}
RING = 'nodetrail_dropped_total{stage="ringbuf",event="%s"}'
EVENTS = ("cgroup_mkdir", "cgroup_rmdir", "exec", "exit", "signal", "oom")
CAPS = ("cgroup_map_full", "series_dropped", "api_pods_dropped", "pod_events_pods_dropped", "pending_overflow")


def ready_pod(uid, name, cid):
    p = pod(uid, name, cid, {"running": {}})
    p["status"]["conditions"] = [{"type": "Ready", "status": "True",
                                  "lastTransitionTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}]
    return p


def host_containers():
    """Container cgroups on the host (kubelet layouts; memory hierarchy, else the unified one): the standing pods',
    unless something else makes kubelet-style cgroups meanwhile (another test run), which the agent tracks too."""
    h = "/sys/fs/cgroup/memory" if os.path.isdir("/sys/fs/cgroup/memory") else "/sys/fs/cgroup"
    return len(glob.glob(f"{h}/kubepods/*/pod*/*/") + glob.glob(f"{h}/kubepods.slice/*/*pod*/*/"))


def from_metrics(m):
    """The fault counters of the running agent (since its start)."""
    return {"ring_drops": sum(m.get(RING % e, 0) for e in EVENTS), "rmdir_drops": m.get(RING % "cgroup_rmdir", 0),
            "reconciled": m.get("nodetrail_cgroups_reconciled_total", 0),
            "relists": m.get('nodetrail_api_relists_410_total{resource="pods"}', 0)}


def from_status(st):
    """The same, and the caps' refusals and missed deletions, from an agent's last agent.status."""
    api = st["api"]
    return {"ring_drops": sum(st["ringbuf_drops"].values()), "rmdir_drops": st["ringbuf_drops"]["cgroup_rmdir"],
            "reconciled": st["cgroups_reconciled"], "relists": api["streams"]["pods"]["relists_410"],
            "missed_deletions": api["missed_deletions"], "cgroup_map_full": st["cgroup_map_full"],
            "series_dropped": st["series_dropped"], "api_pods_dropped": api["pods_dropped"],
            "pod_events_pods_dropped": api.get("pod_events", {}).get("pods_dropped", 0),
            "pending_overflow": st["pending_overflow"]}


class Soak:
    def __init__(self, api):
        self.api, self.port = api, free_port()
        self.args = ("--api", "on", "--api-server", api.url, "--token-file", api.token_file, "--ca-file", api.ca_file,
                     "--imds", "off", "--status-interval", "60", "--metrics-addr", f"127.0.0.1:{self.port}",
                     "--ringbuf-size", str(RINGBUF_KIB), "--log-level", "info")
        self.agent, self.live = None, set()  # cgroups made and not yet removed
        self.done, self.base = {}, None     # fault counters of the agents stopped so far; the baseline row
        self.relists = self.restarts = 0

    def start(self, tmp=None):
        """Agent.start parses every record until its agent.status: slow with 50 MB of them. Here: /metrics' ready."""
        a = self.agent = Agent(*self.args, node=NODE, tmp=tmp)
        a.stderr = open(a.stderr_path, "a")
        a.proc = subprocess.Popen(a.args, stdout=subprocess.DEVNULL, stderr=a.stderr, env=a.env)
        for _ in range(300):
            if a.proc.poll() is not None:
                raise SystemExit(f"soak: the agent exited with {a.proc.returncode}: {a.log()[-2000:]}")
            try:
                if metrics(self.port).get("nodetrail_ready") == 1:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit("soak: the agent was not ready within 30 s")

    def stop(self):
        """SIGTERM; its last agent.status (from the active record file: the others are old)."""
        rc, _ = self.agent.stop(timeout=10)
        with open(max(self.agent.files(), key=os.path.getmtime)) as f:
            line = [line for line in f.read().splitlines() if '"agent.status"' in line][-1]
        st = json.loads(LINE_RE.match(line).group(2))["agent"]
        if rc != 0 or st.get("pid") != self.agent.proc.pid:
            raise SystemExit(f"soak: the agent exited with {rc} ({line[:200]}): {self.agent.log()[-2000:]}")
        for k, v in from_status(st).items():
            self.done[k] = self.done.get(k, 0) + v
        return st

    def cgroups(self, uid, cid):
        cg = Cgroups(uid, cid)
        self.live.add(cg)
        return cg

    def remove(self, cg):
        cg.remove()
        self.live.discard(cg)

    def lifecycle(self, name):
        uid, cid = str(uuid.uuid4()), secrets.token_hex(32)
        self.api.upsert("pods", ready_pod(uid, name, cid))
        cg = self.cgroups(uid, cid)
        code = cg.run(3)
        self.api.upsert("pods", pod(uid, name, cid, {"terminated": {"exitCode": code, "reason": "Error"}}))
        self.api.delete("pods", "bench", name)
        self.remove(cg)

    def wait(self, name, pred, timeout=15):
        """Until the agent's /metrics gauge nodetrail_<name> satisfies pred; whether it did."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if pred(metrics(self.port).get("nodetrail_" + name, 0)):
                return True
            time.sleep(0.05)
        return False

    def seen_pods(self, prefix):
        """GONE running pods with their cgroups, once the agent has them all in its cache."""
        pods = []
        for i in range(GONE):
            uid, cid = str(uuid.uuid4()), secrets.token_hex(32)
            self.api.upsert("pods", ready_pod(uid, f"{prefix}-{i}", cid))
            pods.append((f"{prefix}-{i}", self.cgroups(uid, cid)))
        if not self.wait("api_pods", lambda v: v == self.base["api_pods"] + GONE):
            print(f"soak: {prefix}: the agent's API pods are not the baseline's and these {GONE}", flush=True)
        return pods

    def delete(self, pods):
        for name, cg in pods:
            self.api.delete("pods", "bench", name)
            self.remove(cg)

    def relist(self, n):
        pods = self.seen_pods(f"relist-{n}")
        self.api.blackhole(60)
        self.delete(pods)
        self.api.expire_watches()  # answered before the held events: a 410, then the agent relists
        self.api.blackhole_until = 0
        self.relists += 1
        if not self.wait("api_pods", lambda v: v == self.base["api_pods"]):
            print(f"soak: after the relist at {n}, the agent's API pods are not back to the baseline", flush=True)

    def burst(self, n, count):
        jobs = []
        for i in range(count):
            uid, cid, name = str(uuid.uuid4()), secrets.token_hex(32), f"burst-{n + i}"
            self.api.upsert("pods", ready_pod(uid, name, cid))
            jobs.append((uid, cid, name, self.cgroups(uid, cid)))
        time.sleep(1)  # their cgroup_mkdir events read
        self.agent.proc.send_signal(signal.SIGSTOP)
        try:
            codes = [cg.run(3) for *_, cg in jobs]  # exec and exit events fill the ring buffer first
            for (uid, cid, name, _), code in zip(jobs, codes):
                self.api.upsert("pods", pod(uid, name, cid, {"terminated": {"exitCode": code, "reason": "Error"}}))
                self.api.delete("pods", "bench", name)
            for *_, cg in jobs:
                self.remove(cg)  # the cgroup_rmdir events, lost
        finally:
            self.agent.proc.send_signal(signal.SIGCONT)

    def restart(self, n):
        pods = self.seen_pods(f"restart-{n}")
        self.stop()
        self.delete(pods)  # while the agent is down
        self.start(tmp=self.agent.tmp)
        self.restarts += 1

    def measure(self, point, n):
        pid = self.agent.proc.pid
        row = {"point": point, "lifecycles": n, "fds": open_fds(pid), "host_containers": host_containers()}
        row["rss_kib"], row["anon_kib"] = memory_kib(pid)
        m = metrics(self.port)
        row.update({k: int(m.get("nodetrail_" + v, 0)) for k, v in TABLES.items()})
        row["dedup_ids"], row["dedup_cap"] = int(m["nodetrail_dedup_window_ids"]), int(m["nodetrail_dedup_window_cap"])
        row.update({k: int(self.done.get(k, 0) + v) for k, v in from_metrics(m).items()})
        row["restarts"] = self.restarts
        print(f"soak: {point}: " + json.dumps({k: v for k, v in row.items() if k != "point"}), flush=True)
        return row


def soak(s):
    rows, peak = [], (0, 0)
    s.start()
    time.sleep(2)
    rows.append(s.measure("idle (no pods)", 0))
    for i in range(PODS):
        uid, cid = str(uuid.uuid4()), secrets.token_hex(32)
        s.cgroups(uid, cid)
        s.api.upsert("pods", pod(uid, f"standing-{i}", cid, {"running": {}}))
    time.sleep(3)
    rows.append(s.measure(f"{PODS} standing pods (baseline)", 0))
    s.base, t0 = rows[-1], time.time()
    n, due = 0, {"sample": 100, "row": EVERY, "relist": RELIST_EVERY, "burst": BURST_EVERY // 2,
                 "restart": RESTART_EVERY}
    while n < LIFECYCLES:
        if n >= due["burst"]:
            count = min(BURST, LIFECYCLES - n)
            s.burst(n, count)
            n, due["burst"] = n + count, due["burst"] + BURST_EVERY
        else:
            s.lifecycle(f"job-{n}")
            n += 1
        if n >= due["sample"]:
            peak, due["sample"] = max(peak, (memory_kib(s.agent.proc.pid)[0], n)), due["sample"] + 100
        if n >= due["row"]:
            rows.append(s.measure(f"after {n} lifecycles", n))
            due["row"] += EVERY
        if LIFECYCLES > n >= due["relist"]:
            s.relist(n)
            due["relist"] += RELIST_EVERY
        if LIFECYCLES > n >= due["restart"]:
            s.restart(n)
            due["restart"] += RESTART_EVERY
    took = time.time() - t0
    time.sleep(QUIET)
    rows.append(s.measure(f"end, {QUIET} s later", n))
    final = s.stop()
    return rows, peak, took, final


def check(rows, totals, relists, restarts):
    base, end = rows[1], rows[-1]
    first = next((r for r in rows[2:-1] if r["lifecycles"] >= 10000), rows[-2])
    if end["host_containers"] != base["host_containers"]:
        return [f"{end['host_containers']} container cgroups on the host at the end, {base['host_containers']} with "
                "the standing pods: something else made kubelet cgroups meanwhile; run again"]
    problems = [f"{k}: {end[k]} at the end, {base[k]} with the standing pods" for k in TABLES if end[k] != base[k]]
    problems += [f"{k}: {totals[k]}: a bounded set reached its cap" for k in CAPS if totals.get(k)]
    if end["dedup_ids"] > end["dedup_cap"]:
        problems.append(f"dedup window {end['dedup_ids']} ids, over its cap {end['dedup_cap']}")
    if end["rss_kib"] > 1.10 * first["rss_kib"]:
        problems.append(f"RSS {end['rss_kib']} KiB at the end, {end['rss_kib'] / first['rss_kib']:.3f}x that "
                        f"after {first['lifecycles']} lifecycles")
    if end["fds"] != base["fds"]:
        problems.append(f"{end['fds']} open fds at the end, {base['fds']} with the standing pods")
    if not totals.get("rmdir_drops") or not totals.get("reconciled"):
        problems.append("no cgroup_rmdir lost to the ring buffer and reconciled: the overflow fault did not happen")
    if totals.get("relists", 0) < relists or totals.get("missed_deletions", 0) < GONE * (relists + restarts):
        problems.append(f"{totals.get('relists')} relists after a 410, {totals.get('missed_deletions')} missed "
                        f"deletions: {relists} relists and {restarts} restarts injected, {GONE} pods gone each")
    return problems


def main():
    why = missing_prerequisite()
    if why:
        print(f"soak: skipped: {why}")
        return 1 if CHECK and os.environ.get("REQUIRE_BPF") == "1" else 0
    containers.kubelet_roots()
    tmp = tempfile.mkdtemp(prefix="nodetrail-soak-")
    api = KubeAPI(tmp, bookmark_interval=60)
    api.upsert("nodes", {"metadata": {"name": NODE}, "spec": {}, "status": {}})
    s = Soak(api)
    try:
        rows, peak, took, final = soak(s)
    finally:
        if s.agent and s.agent.proc and s.agent.proc.poll() is None:
            s.agent.proc.send_signal(signal.SIGCONT)
            s.agent.stop(timeout=10)
        for cg in list(s.live):
            s.remove(cg)
        api.close()
        shutil.rmtree(tmp, ignore_errors=True)
        if s.agent and os.environ.get("KEEP") == "1":
            print(f"soak: the agent's records, state and log kept in {s.agent.tmp}")
        elif s.agent:
            shutil.rmtree(s.agent.tmp, ignore_errors=True)
    problems = check(rows, s.done, s.relists, s.restarts)
    os.makedirs("build/bench", exist_ok=True)
    with open("build/bench/soak.json", "w") as f:
        json.dump({"knobs": KNOBS, "seconds": took, "rows": rows, "peak_rss_kib": {"kib": peak[0], "after": peak[1]},
                   "totals": s.done, "restarts": s.restarts, "agent_stopped": final, "problems": problems}, f, indent=1)
    print(f"\nSoak: {LIFECYCLES} pod lifecycles in {took:.0f} s ({PODS} standing pods, eBPF + API on, {RINGBUF_KIB} KiB "
          f"ring buffer); every {RELIST_EVERY} a relist that finds {GONE} pods gone and a {BURST}-lifecycle burst "
          f"into the stopped agent, every {RESTART_EVERY} a restart with {GONE} pods gone while down; kernel "
          f"{os.uname().release}, {time.strftime('%Y-%m-%d')}\n")
    cols = ["RSS KiB", "private KiB", "fds", "containers", "cgroups", "series", "started", "pending", "API pods",
            "troubled pods", "dedup ids", "ring drops (rmdir)", "reconciled", "relists", "restarts"]
    print("| point | " + " | ".join(cols) + " |\n| --- |" + " ---: |" * len(cols))
    for r in rows:
        print(f"| {r['point']} | " + " | ".join(str(r[k]) for k in (
            "rss_kib", "anon_kib", "fds", *TABLES, "dedup_ids")) +
            f" | {r['ring_drops']} ({r['rmdir_drops']}) | {r['reconciled']} | {r['relists']} | {r['restarts']} |")
    t = s.done
    print(f"\nhighest RSS sampled {peak[0]} KiB (after {peak[1]}); missed deletions found by relists "
          f"{t.get('missed_deletions')}; caps reached: " + ", ".join(f"{k} {t.get(k, 0)}" for k in CAPS))
    print("soak: " + ("FAIL: " + "; ".join(problems) if problems else "every check met"))
    return 1 if CHECK and problems else 0


if __name__ == "__main__":
    sys.exit(main())
