"""Container churn through the whole pipeline on the real kernel.

Rounds alternate between no agent and nodetrail (eBPF on, API off): each round runs N runc
containers one after another (create, start, exit 7, delete) in kubelet-style cgroups. Reports
containers/s with nodetrail as a ratio to the rounds without it, the share of containers that got a
complete container.exited record (exit code 7, pid, run time), the kernel-to-file latency of those
records (the CRI line's time, taken when the record is queued for the file, minus the kernel's
event_time), and the agent's RSS idle and after the churn. JSON to build/bench/churn.json.
"""
import json
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
os.environ.setdefault("NODETRAIL_AGENT", os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/nodetrail"))
import containers  # noqa: E402
from agent import LINE_RE, Agent, missing_prerequisite  # noqa: E402
from benchutil import memory_kib  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "7"))
PER_ROUND = int(os.environ.get("PER_ROUND", "40"))


def ts(s):
    """RFC 3339 with 9 fraction digits -> ns since the epoch."""
    import calendar
    sec = calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S"))
    frac = s[20:-1] if len(s) > 20 else "0"
    return sec * 1000000000 + int(frac.ljust(9, "0")[:9])


def churn(rootfs, n):
    ids, t0 = [], time.time()
    for _ in range(n):
        c = containers.Container(rootfs, ["sh", "-c", "exit 7"]).start()
        c.wait()
        c.remove()
        ids.append(c.id)
    return n / (time.time() - t0), ids


def main():
    why = missing_prerequisite()
    if why:
        print(f"churn: skipped: {why}")
        return 0
    containers.kubelet_roots()
    rootfs = containers.Rootfs()
    agent = Agent("--api", "off", "--imds", "off", "--log-level", "info").start()
    rss_idle = memory_kib(agent.proc.pid)[0]
    agent.stop()
    rates = {"none": [], "nodetrail": []}
    ids, latencies_us = [], []
    complete = 0
    try:
        for r in range(ROUNDS):
            rate, _ = churn(rootfs, PER_ROUND)
            rates["none"].append(rate)
            agent = Agent("--api", "off", "--imds", "off", "--log-level", "info").start()
            rate, round_ids = churn(rootfs, PER_ROUND)
            rates["nodetrail"].append(rate)
            time.sleep(0.5)
            rss_after = memory_kib(agent.proc.pid)[0]
            by_id = {}
            for line in agent.lines():
                m = LINE_RE.match(line)
                rec = json.loads(m.group(2))
                if rec["type"] == "container.exited":
                    by_id[rec["container"]["id"]] = (ts(m.group(1)), rec)
            agent.stop()
            for cid in round_ids:
                if cid not in by_id:
                    continue
                written, rec = by_id[cid]
                k = rec["kernel"]
                if k.get("exit_code") == 7 and k.get("pid") and "run_time_s" in k:
                    complete += 1
                latencies_us.append((written - ts(rec["event_time"])) / 1000)
            ids += round_ids
    finally:
        rootfs.remove()
    none, nt = statistics.median(rates["none"]), statistics.median(rates["nodetrail"])
    latencies_us.sort()
    p = lambda q: latencies_us[min(len(latencies_us) - 1, int(q * (len(latencies_us) - 1)))] if latencies_us else 0
    out = {"rounds": ROUNDS, "per_round": PER_ROUND, "containers_per_s": {"none": none, "nodetrail": nt},
           "ratio": nt / none, "complete": complete, "containers": len(ids),
           "latency_us": {"p50": p(0.5), "p99": p(0.99), "max": latencies_us[-1] if latencies_us else 0},
           "agent_rss_kib": {"idle": rss_idle, "after_round": rss_after}}
    os.makedirs("build/bench", exist_ok=True)
    with open("build/bench/churn.json", "w") as f:
        json.dump(out, f, indent=1)
    print(f"Container churn, {ROUNDS} rounds x {PER_ROUND} runc containers, kernel {os.uname().release}, "
          f"{time.strftime('%Y-%m-%d')}\n")
    print("| variant | median containers/s | ratio to none | complete records |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| none | {none:.1f} | 1.000 | |")
    print(f"| nodetrail | {nt:.1f} | {nt / none:.3f} | {complete}/{len(ids)} |")
    print(f"\nkernel-to-file latency of container.exited: p50 {p(0.5):.0f} us, p99 {p(0.99):.0f} us")
    print(f"agent RSS: {rss_idle} KiB idle, {rss_after} KiB after a round of {PER_ROUND} containers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
