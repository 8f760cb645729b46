"""Exec throughput with no tracer, with nodetrail, and with libbpf-tools' execsnoop.

Each round runs every variant once, in an order rotated per round (this machine's exec rate
drifts by +-10% between rounds); the table reports medians and ratios to `none` measured in
the same run. Independent of neighbours: the BPF programs' own ns per event
(kernel.bpf_stats_enabled) and the agent's CPU time per 1,000 execs.
"""
import glob
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AGENT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build/nodetrail"))
ROUNDS = int(os.environ.get("ROUNDS", "9"))
DURATION = float(os.environ.get("DURATION", "2"))
WORKERS = int(os.environ.get("WORKERS", str(os.cpu_count() or 2)))
EXECSNOOP = shutil.which("execsnoop") or "/usr/sbin/execsnoop"
OUT = os.path.join(ROOT, "build", "bench")


def prog_stats(prefixes):
    """{name: (run_time_ns, run_cnt)} of loaded programs whose name starts with a prefix."""
    p = subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True, text=True)
    out = {}
    for prog in json.loads(p.stdout or "[]"):
        name = prog.get("name", "")
        if any(name.startswith(x) for x in prefixes):
            t, c = out.get(name, (0, 0))
            out[name] = (t + prog.get("run_time_ns", 0), c + prog.get("run_cnt", 0))
    return out


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def execloop(binary):
    p = subprocess.run([binary, str(DURATION), str(WORKERS)], capture_output=True, text=True, check=True)
    return float(p.stdout)


class Variant:
    prefixes = ()

    def start(self):
        pass

    def stop(self):
        pass


class Nodetrail(Variant):
    name = "nodetrail"
    prefixes = ("nt_",)

    def start(self):
        self.tmp = tempfile.mkdtemp(prefix="nodetrail-bench-")
        out = os.path.join(self.tmp, "out")
        os.makedirs(out)
        self.proc = subprocess.Popen([AGENT, "--bpf", "on", "--output-dir", out, "--state-dir",
                                      os.path.join(self.tmp, "state"), "--node-name", "bench",
                                      "--status-interval", "0"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.time() + 15
        while time.time() < deadline:
            files = glob.glob(os.path.join(out, "*.log"))
            if files and "agent.status" in open(files[0]).read():
                break
            if self.proc.poll() is not None:
                sys.exit(f"bench: agent exited {self.proc.returncode} at start")
            time.sleep(0.05)
        self.ticks0 = cpu_ticks(self.proc.pid)

    def stop(self):
        self.cpu_s = (cpu_ticks(self.proc.pid) - self.ticks0) / os.sysconf("SC_CLK_TCK")
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=5)
        shutil.rmtree(self.tmp, ignore_errors=True)


class Execsnoop(Variant):
    name = "execsnoop"
    prefixes = ("tracepoint__sys", "handle_exec")

    def start(self):
        self.proc = subprocess.Popen([EXECSNOOP], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class NoTracer(Variant):
    name = "none"


def main():
    if os.geteuid() != 0:
        print("bench: needs root (BPF programs, bpf_stats)", file=sys.stderr)
        return 2
    if not os.access(AGENT, os.X_OK):
        print(f"bench: no agent binary at {AGENT}: run make first", file=sys.stderr)
        return 2
    os.makedirs(OUT, exist_ok=True)
    loop = os.path.join(OUT, "execloop")
    subprocess.run(["cc", "-O2", "-o", loop, os.path.join(ROOT, "tests/bench/execloop.c")], check=True)
    variants = [NoTracer(), Nodetrail()]
    if os.access(EXECSNOOP, os.X_OK):
        variants.append(Execsnoop())
    else:
        print("bench: execsnoop (Debian libbpf-tools) not found, skipping that variant", file=sys.stderr)

    # execsnoop attaches classic tracepoints, which need tracefs
    mounted_tracefs = False
    if not os.path.ismount("/sys/kernel/tracing"):
        mounted_tracefs = subprocess.run(["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"]).returncode == 0
    old_stats = open("/proc/sys/kernel/bpf_stats_enabled").read().strip()
    rates = {v.name: [] for v in variants}
    bpf = {v.name: {} for v in variants}
    agent_cpu = []
    try:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("1")
        for rnd in range(ROUNDS):
            order = variants[rnd % len(variants):] + variants[:rnd % len(variants)]
            for v in order:
                v.start()
                before = prog_stats(v.prefixes) if v.prefixes else {}
                rate = execloop(loop)
                after = prog_stats(v.prefixes) if v.prefixes else {}
                v.stop()
                rates[v.name].append(rate)
                for name, (t, c) in after.items():
                    t0, c0 = before.get(name, (0, 0))
                    acc = bpf[v.name].setdefault(name, [0, 0])
                    acc[0] += t - t0
                    acc[1] += c - c0
                if v.name == "nodetrail":
                    agent_cpu.append(v.cpu_s / (rate * DURATION) * 1000)
            print(f"round {rnd + 1}/{ROUNDS}: " + ", ".join(f"{n} {rates[n][-1]:.0f}/s" for n in rates),
                  file=sys.stderr, flush=True)
    finally:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(old_stats)
        if mounted_tracefs:
            subprocess.run(["umount", "/sys/kernel/tracing"])

    base = statistics.median(rates["none"])
    total_execs = {n: sum(rates[n]) * DURATION for n in rates}
    result = {"machine": {"nproc": os.cpu_count(), "kernel": platform.release(),
                          "date": time.strftime("%Y-%m-%d")},
              "rounds": ROUNDS, "duration_s": DURATION, "workers": WORKERS, "variants": {}}
    rows = []
    for n in rates:
        med = statistics.median(rates[n])
        progs = {name: {"ns_per_run": (t / c if c else 0), "runs": c} for name, (t, c) in bpf[n].items()}
        per_exec = sum(t for t, _ in bpf[n].values()) / total_execs[n] if bpf[n] else 0.0
        result["variants"][n] = {"execs_per_s": rates[n], "median": med, "ratio": med / base,
                                 "bpf_programs": progs, "bpf_ns_per_exec": per_exec}
        rows.append((n, med, med / base, per_exec))
    if agent_cpu:
        result["variants"]["nodetrail"]["agent_cpu_ms_per_1000_execs"] = statistics.median(agent_cpu) * 1000
    with open(os.path.join(OUT, "exec_throughput.json"), "w") as f:
        json.dump(result, f, indent=2)

    print(f"Exec throughput, {ROUNDS} rounds x {DURATION:g} s, {WORKERS} workers, "
          f"{os.cpu_count()} CPUs, kernel {platform.release()}, {time.strftime('%Y-%m-%d')}")
    print()
    print("| variant | median execs/s | ratio to none | BPF ns per exec |")
    print("| --- | ---: | ---: | ---: |")
    for n, med, ratio, per_exec in rows:
        print(f"| {n} | {med:.0f} | {ratio:.3f} | {per_exec:.0f} |")
    if agent_cpu:
        print()
        print(f"nodetrail agent CPU: {statistics.median(agent_cpu) * 1000:.3f} ms per 1,000 execs outside containers")
        for name, st in sorted(result["variants"]["nodetrail"]["bpf_programs"].items()):
            if st["runs"]:
                print(f"  {name}: {st['ns_per_run']:.0f} ns per run ({st['runs']} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
