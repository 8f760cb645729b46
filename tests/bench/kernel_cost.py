"""What one short-lived process costs in the kernel and in the agent, outside and inside a container.

A busybox shell runs `true` N times (fork+exec+exit each, the same static busybox in both places):
"outside" on the host, in no container cgroup; "inside" as the command of a runc container in a
kubelet-style cgroup. It waits on a FIFO until the tracer is attached and has read the container's
start, so the measured window holds the loop alone. Tracers: none; nodetrail keyed as on this host
(memory-controller ids on a hybrid host); nodetrail keyed on cgroup2 as on pure-v2 hosts (--cgroup-root
/sys/fs/cgroup/unified: its agent.status must say cgroup_ids "unified" and it must write the container's
container.exited, else it is marked NOT WORKING with why); libbpf-tools' execsnoop as the reference.

Per (tracer, placement), medians of ROUNDS (5) rounds (tracers rotated, a tracer's two placements back to
back: inside/outside ratios are the median of each round's), a fresh tracer for each run:
- each BPF program's ns per run and runs per process (bpf_stats deltas of the tracer's own programs,
  found through its fds), and their sum per process;
- ring-buffer events the agent read per process, by type: its counters in its final agent.status
  (SIGTERM, after the container's exit) minus those of a baseline run with no loop; drops and
  ringbuf_wakeups (where reported) the same way;
- the tracer's CPU per process from the loop's start to SETTLE s after its end (the agent reads what
  the kernel let wait within 1 s): its threads' se.sum_exec_runtime (utime+stime without the 10 ms
  ticks of /proc/<pid>/stat, the fallback); and wall time per process.
The programs run for every process of the host and the agent reads every container's events: a run is
made again (RETRIES times) when other processes were created during its loop or cgroups came and went.

Targets: inside <= 1.5x outside per nodetrail program (ns per run); no ring-buffer event for a
container's short-lived non-main processes. CHECK=1: exit 1 when one is missed. N (3000), ROUNDS (5),
SETTLE (1.5), RETRIES (2), TRACERS (a subset by name) override; JSON to build/bench/kernel_cost.json.
"""
import glob
import json
import os
import platform
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
os.environ.setdefault("NODETRAIL_AGENT", os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/nodetrail"))
import agent as agentmod  # noqa: E402
import containers  # noqa: E402
from agent import Agent, missing_prerequisite  # noqa: E402

N = int(os.environ.get("N", "3000"))
ROUNDS = int(os.environ.get("ROUNDS", "5"))
SETTLE = float(os.environ.get("SETTLE", "1.5"))
RETRIES = int(os.environ.get("RETRIES", "2"))
CHECK = os.environ.get("CHECK") == "1"
EXECSNOOP = shutil.which("execsnoop") or "/usr/sbin/execsnoop"
EVENTS = ("cgroup_mkdir", "cgroup_rmdir", "exec", "exit", "signal", "oom")
PLACES = ("outside", "inside")
SCRIPT = "read x < {s}/go; i=0; while [ $i -lt {n} ]; do {true}; i=$((i+1)); done; echo > {s}/done; read x < {s}/end"


def prog_stats(pid):
    """{program: (run_time_ns, run_cnt)} of the BPF programs pid holds (not another agent's)."""
    ids = set()
    for path in glob.glob(f"/proc/{pid}/fdinfo/*") if pid else ():
        try:
            with open(path) as f:
                ids |= {int(ln.split()[1]) for ln in f if ln.startswith("prog_id:")}
        except OSError:
            pass
    out = {}
    shown = subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True, text=True).stdout
    for prog in (p for p in json.loads(shown or "[]") if p["id"] in ids):
        name = prog["name"][:-4] if prog["name"].endswith(("_btf", "_raw")) else prog["name"]
        t, c = out.get(name, (0, 0))
        out[name] = (t + prog.get("run_time_ns", 0), c + prog.get("run_cnt", 0))
    return out


def cpu_ns(pid):
    """CPU time of all the process's threads so far."""
    runtimes = []
    for path in glob.glob(f"/proc/{pid}/task/*/sched"):
        with open(path) as f:
            runtimes += [float(ln.split(":")[1]) * 1e6 for ln in f if ln.startswith("se.sum_exec_runtime")]
    if runtimes:
        return sum(runtimes)
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1e9 / os.sysconf("SC_CLK_TCK")


def host_forks():
    """Processes and threads created on the host since boot."""
    with open("/proc/stat") as f:
        return next(int(ln.split()[1]) for ln in f if ln.startswith("processes "))


class Tracer:
    pid, note, bpf = None, "", False

    def __init__(self, name, *args):
        self.name, self.args = name, args

    def start(self):
        pass

    def stop(self):
        self.pid = None


class Nodetrail(Tracer):
    bpf = True

    def start(self):
        self.agent = Agent("--api", "off", "--imds", "off", "--log-level", "info", *self.args, node="bench").start()
        self.pid = self.agent.proc.pid

    def stop(self):
        """SIGTERM; returns the last agent.status, the one the agent writes then."""
        self.pid = None
        if self.agent.proc.poll() is None:
            self.agent.stop(timeout=10)
        st = [r["agent"] for r in self.agent.records() if r["type"] == "agent.status"]
        shutil.rmtree(self.agent.tmp, ignore_errors=True)
        return st[-1]

    def saw_exit(self, cid):
        try:
            return bool(self.agent.wait_for(
                lambda r: r["type"] == "container.exited" and r["container"]["id"] == cid, timeout=5))
        except AssertionError:
            return False


class Execsnoop(Tracer):
    bpf = True

    def start(self):
        self.proc = subprocess.Popen([EXECSNOOP], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.pid = self.proc.pid
        time.sleep(1.0)

    def stop(self):
        self.pid = None
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def fifo_writer(path, timeout=30):
    """The FIFO's write end, once the shell blocks reading it."""
    deadline = time.time() + timeout
    while True:
        try:
            return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            if time.time() > deadline:
                raise TimeoutError(f"the shell never read {path}")
            time.sleep(0.01)


def release(fd):
    os.write(fd, b"\n")
    os.close(fd)


def fifo_wait(path, timeout):
    """Wait for the shell's line in the FIFO."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if select.select([fd], [], [], 0.5)[0] and os.read(fd, 64):
                return
        raise TimeoutError(f"nothing in {path} within {timeout:.0f} s")
    finally:
        os.close(fd)


def run_once(tracer, place, n, rootfs):
    """A fresh tracer, the shell waiting on its FIFO, then n processes: the deltas over the loop."""
    sync = tempfile.mkdtemp(prefix="nodetrail-kcost-")
    for name in ("go", "done", "end"):
        os.mkfifo(os.path.join(sync, name))
    proc = ctr = None
    res = {}
    try:
        tracer.start()
        if place == "outside":
            bindir = os.path.join(rootfs.dir, "bin")
            script = SCRIPT.format(s=sync, n=n, true=os.path.join(bindir, "true"))
            proc = subprocess.Popen([os.path.join(bindir, "sh"), "-c", script])
        else:
            ctr = containers.Container(rootfs, ["sh", "-c", SCRIPT.format(s="/sync", n=n, true="/bin/true")])
            with open(os.path.join(ctr.bundle, "config.json")) as f:
                spec = json.load(f)
            spec["mounts"].append({"destination": "/sync", "type": "bind", "source": sync, "options": ["rbind"]})
            with open(os.path.join(ctr.bundle, "config.json"), "w") as f:
                json.dump(spec, f)
            ctr.start()
            with open(f"/proc/{ctr.pid}/cgroup") as f:
                res["unified_cgroup"] = next((ln[3:].strip() for ln in f if ln.startswith("0::")), None)
        go = fifo_writer(os.path.join(sync, "go"))
        time.sleep(0.5)  # the container's first exec wakes the agent: let it read the start
        before, cpu0 = prog_stats(tracer.pid), cpu_ns(tracer.pid) if tracer.pid else 0
        t0, forks0 = time.time(), host_forks()
        release(go)
        fifo_wait(os.path.join(sync, "done"), timeout=60 + n * 0.02)
        res["wall_s"], res["other_forks"] = time.time() - t0, host_forks() - forks0 - n
        after = prog_stats(tracer.pid)
        res["progs"] = {k: (t - before.get(k, (0, 0))[0], c - before.get(k, (0, 0))[1]) for k, (t, c) in after.items()}
        if tracer.pid:
            time.sleep(SETTLE)
            res["cpu_ns"] = cpu_ns(tracer.pid) - cpu0
        release(fifo_writer(os.path.join(sync, "end")))
        if proc:
            proc.wait(timeout=20)
        if ctr:
            ctr.wait(20)
            res["seen"] = isinstance(tracer, Nodetrail) and tracer.saw_exit(ctr.id)  # it followed this container
        res["status"] = tracer.stop()
    finally:
        if tracer.pid:
            tracer.stop()
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        if ctr:
            ctr.remove()
        shutil.rmtree(sync, ignore_errors=True)
    return res


def counters(st):
    """The agent's ring-buffer counters in an agent.status."""
    out = {t: st["ringbuf_events"].get(t, 0) for t in EVENTS}
    out["drops"] = sum(st.get("ringbuf_drops", {}).values())
    out.update({k: st[k] for k in ("ringbuf_wakeups", "ringbuf_backstop_reads") if k in st})
    return out


def figures(base, res):
    """Per process: wall time, BPF ns (per program too), tracer CPU, ring-buffer events by type."""
    m = {"wall_us": res["wall_s"] / N * 1e6, "bpf_ns": sum(t for t, _ in res["progs"].values()) / N,
         "progs": {k: {"ns_per_run": t / c if c else 0.0, "runs_per_process": c / N}
                   for k, (t, c) in res["progs"].items()},
         "other_forks": res["other_forks"] / N}
    if "cpu_ns" in res:
        m["cpu_us"] = res["cpu_ns"] / N / 1e3
    if base:
        b, a = counters(base["status"]), counters(res["status"])
        m["per_process"], m["counters"] = {k: (a[k] - b[k]) / N for k in a if k in b}, {"baseline": b, "loop": a}
        m["events"] = sum(m["per_process"][t] for t in EVENTS)
        m["keying"] = {k: res["status"].get(k) for k in ("cgroup_mode", "cgroup_ids", "tracked_containers")}
        m["unified_cgroup"], m["seen"] = res.get("unified_cgroup"), res.get("seen")
    return m


def problem(tracer, place, runs):
    """Why this agent is not keyed as asked or did not follow the container, or None."""
    for res in runs:
        st = res["status"]
        if "--cgroup-root" in tracer.args and st.get("cgroup_ids") != "unified":
            return f"agent.status says cgroup_ids {st.get('cgroup_ids')!r} (cgroup_mode {st.get('cgroup_mode')!r})"
        if place == "inside" and not res["seen"]:
            return (f"no container.exited for the container: the agent did not follow it (its cgroup2 path "
                    f"{res['unified_cgroup']!r}, tracked_containers {st.get('tracked_containers')})")
    return None


def measure(tracer, place, rootfs):
    """One round's figures for (tracer, place); nodetrail first runs its baseline (no loop)."""
    for attempt in range(RETRIES + 1):
        base = run_once(tracer, place, 0, rootfs) if isinstance(tracer, Nodetrail) else None
        res = run_once(tracer, place, N, rootfs)
        m = figures(base, res)
        cgroups = base and (m["per_process"]["cgroup_mkdir"] or m["per_process"]["cgroup_rmdir"])  # none of ours
        if res["other_forks"] <= N * 0.02 and not cgroups:
            break
        print(f"kernel_cost: {tracer.name} {place}: {res['other_forks']} other processes during the loop"
              + (", other cgroups made or removed" if cgroups else "") + ("; again" if attempt < RETRIES else "; kept"),
              file=sys.stderr, flush=True)
    if base:
        tracer.note = tracer.note or problem(tracer, place, (base, res)) or ""
    return m


def main():
    why = missing_prerequisite() or (None if shutil.which("bpftool") else "bpftool not installed")
    if why:
        print(f"kernel_cost: skipped: {why}")
        return 1 if os.environ.get("REQUIRE_BPF") == "1" else 0
    if not os.access(os.environ["NODETRAIL_AGENT"], os.X_OK):
        print(f"kernel_cost: no agent binary at {os.environ['NODETRAIL_AGENT']}: run make first", file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="nodetrail-kcost-bin-")  # one agent binary for the run, whatever is rebuilt
    agentmod.AGENT = shutil.copy(os.environ["NODETRAIL_AGENT"], os.path.join(tmp, "nodetrail"))
    tracers = [Tracer("none"), Nodetrail("nodetrail"),
               Nodetrail("nodetrail-v2", "--cgroup-root", "/sys/fs/cgroup/unified")]
    if os.access(EXECSNOOP, os.X_OK):
        tracers.append(Execsnoop("execsnoop"))
    else:
        print("kernel_cost: execsnoop (Debian libbpf-tools) not found, skipping that variant", file=sys.stderr)
    if os.environ.get("TRACERS"):  # a subset, by name (e.g. TRACERS=none,nodetrail-v2)
        tracers = [t for t in tracers if t.name in os.environ["TRACERS"].split(",")]
    data = {(t.name, p): [] for t in tracers for p in PLACES}
    containers.kubelet_roots()
    rootfs = containers.Rootfs()
    mounted_tracefs = False
    if not os.path.ismount("/sys/kernel/tracing"):  # execsnoop attaches classic tracepoints
        mounted_tracefs = subprocess.run(["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"]).returncode == 0
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        old_stats = f.read().strip()
    try:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("1")
        for rnd in range(ROUNDS):
            for t in tracers[rnd % len(tracers):] + tracers[:rnd % len(tracers)]:
                for p in PLACES if rnd % 2 == 0 else PLACES[::-1]:
                    data[(t.name, p)].append(measure(t, p, rootfs))
            print(f"kernel_cost: round {rnd + 1}/{ROUNDS} done", file=sys.stderr, flush=True)
    finally:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(old_stats)
        if mounted_tracefs:
            subprocess.run(["umount", "/sys/kernel/tracing"])
        rootfs.remove()
        shutil.rmtree(tmp, ignore_errors=True)
    return report(tracers, data)


def med(rounds, get):
    vals = [get(r) for r in rounds]
    return None if None in vals else statistics.median(vals)


def table(head, rows):
    print("| " + " | ".join(head) + " |\n| --- | --- |" + " ---: |" * (len(head) - 2))
    for row in rows:
        print("| " + " | ".join("-" if v is None else v if isinstance(v, str) else f"{v:{f}}" for v, f in row) + " |")


def report(tracers, data):
    label = {t.name: t.name + (f" [NOT WORKING: {t.note}]" if t.note else "") for t in tracers}
    nt = [t for t in tracers if isinstance(t, Nodetrail)]
    print(f"\nCost of one fork+exec+exit: a busybox shell running `true` {N} times, medians of {ROUNDS} rounds, "
          f"{os.cpu_count()} CPUs, kernel {platform.release()}, {time.strftime('%Y-%m-%d')}\n")
    table(["placement", "tracer", "wall us per process", "BPF ns per process", "ring-buffer events per process",
           "tracer user-space CPU us per process", "other processes on the host per process (noise)"],
          [[(p, ""), (label[t.name], ""), (med(rs, lambda r: r["wall_us"]), ".1f"),
            (med(rs, lambda r: r["bpf_ns"]) if t.bpf else None, ".0f"), (med(rs, lambda r: r.get("events")), ".4f"),
            (med(rs, lambda r: r.get("cpu_us")), ".2f"), (med(rs, lambda r: r["other_forks"]), ".3f")]
           for p in PLACES for t in tracers for rs in [data[(t.name, p)]]])
    print()
    rows, ratios = [], {}
    for t in tracers:
        out, ins = data[(t.name, "outside")], data[(t.name, "inside")]
        for name in sorted({n for r in out + ins for n in r["progs"]}):
            zero = {"ns_per_run": 0.0, "runs_per_process": 0.0}
            o, i = ([r["progs"].get(name, zero) for r in rs] for rs in (out, ins))
            runs = [med(x, lambda s: s["runs_per_process"]) for x in (o, i)]
            if max(runs) == 0:
                continue
            each = [b["ns_per_run"] / a["ns_per_run"] for a, b in zip(o, i) if a["ns_per_run"]]
            if min(runs) >= 0.5 and each:  # the median of each round's inside/outside, measured back to back
                ratios[(t.name, name)] = statistics.median(each)
            rows.append([(label[t.name], ""), (name, ""), (med(o, lambda s: s["ns_per_run"]), ".0f"), (runs[0], ".2f"),
                         (med(i, lambda s: s["ns_per_run"]), ".0f"), (runs[1], ".2f"),
                         (ratios.get((t.name, name)), ".2f")])
    table(["tracer", "BPF program", "outside ns per run", "runs per process", "inside ns per run", "runs per process",
           "inside / outside"], rows)
    keys = list(data[(nt[0].name, "inside")][0]["per_process"])
    print("\nRing-buffer events the agent read per process, by type (its agent.status counters):\n")
    table(["placement", "tracer"] + keys,
          [[(p, ""), (label[t.name], "")] + [(med(data[(t.name, p)], lambda r: r["per_process"].get(k, 0)), ".4f")
                                             for k in keys] for p in PLACES for t in nt])
    print()
    for t in nt:
        r = data[(t.name, "inside")]
        print(f"keying: {t.name}: agent.status cgroup_mode {r[0]['keying']['cgroup_mode']}, cgroup_ids "
              f"{r[0]['keying']['cgroup_ids']}; the container's process on cgroup2 (0:: line) at "
              f"{r[0]['unified_cgroup']}; "
              f"its container.exited written in {sum(1 for x in r if x['seen'])}/{len(r)} rounds")
    noise = max(med(rs, lambda r: r["other_forks"]) for rs in data.values())
    if noise > 0.02:
        print(f"note: the host was busy: up to {noise:.2f} other processes per process of the loop; their programs' "
              "runs (runs per process above 1) and their containers' events are in these figures")
    print()
    targets = []
    for t in nt:
        note = f"; {t.note}" if t.note else ""
        targets += [(f"inside <= 1.5x outside, {t.name} {name} (ns per run)", r <= 1.5 and not t.note,
                     f"{r:.2f}x{note}") for (tn, name), r in sorted(ratios.items()) if tn == t.name]
        ev = med(data[(t.name, "inside")], lambda r: r["events"])
        targets.append((f"ring-buffer events per short-lived non-main process == 0, {t.name} inside",
                        ev == 0 and not t.note, f"{ev:.4f}: {ev * N:.0f} for {N} processes{note}"))
    for what, ok, value in targets:
        print(f"target {what}: {'OK' if ok else 'MISSED'} ({value})")
    out = {"machine": {"nproc": os.cpu_count(), "kernel": platform.release(), "date": time.strftime("%Y-%m-%d")},
           "n": N, "rounds": ROUNDS, "settle_s": SETTLE, "notes": {t.name: t.note for t in tracers if t.note},
           "variants": {t.name: {p: data[(t.name, p)] for p in PLACES} for t in tracers},
           "ratios": {f"{t}/{name}": r for (t, name), r in ratios.items()},
           "targets": [{"target": w, "ok": ok, "value": v} for w, ok, v in targets]}
    os.makedirs(os.path.join(ROOT, "build", "bench"), exist_ok=True)
    with open(os.path.join(ROOT, "build", "bench", "kernel_cost.json"), "w") as f:
        json.dump(out, f, indent=1)
    missed = [w for w, ok, _ in targets if not ok]
    if CHECK and missed:
        print("kernel_cost: FAIL: " + "; ".join(missed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
