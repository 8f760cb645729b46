"""Two builds of the agent in one run: does a change make the benchmarks worse?

  python3 tests/bench/compare.py OLD_BINARY NEW_BINARY      (make bench-compare OLD=<git rev>)
  python3 tests/bench/compare.py --report                  the table again, from build/bench/compare.json

Rounds alternate the two binaries (the order flips every round, so that neither always runs on a warmer
machine) through the benchmarks that take an agent binary, each shortened to one round of its own:
container churn (runc containers/s as a ratio to no agent in the same round, kernel-to-file latency),
startup to ready, the API's cost (agent CPU per 1,000 watch events) and memory over 1,000 pod
lifecycles. Reports the median of each measure per binary and the ratio new/old, and writes the rounds
to build/bench/compare.json. ROUNDS (default 5) overrides.
"""
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(ROOT, "build", "bench")
ROUNDS = int(os.environ.get("ROUNDS", "5"))

# (name, script, environment, [(measure, path into its JSON, better)])
RUNS = [
    ("churn", "churn.py", {"ROUNDS": "1", "PER_ROUND": "30"},
     [("churn: containers/s as a ratio to no agent", ("ratio",), "higher"),
      ("churn: kernel-to-file p50 (us)", ("latency_us", "p50"), "lower"),
      ("churn: kernel-to-file p99 (us)", ("latency_us", "p99"), "lower")]),
    ("startup", "startup.py", {"RUNS": "2"},
     [("startup: exec to ready, eBPF on (s)", ("median_s", "on"), "lower"),
      ("startup: RSS ready with 110 pods (KiB)", ("rss_kib_ready_110_pods",), "lower")]),
    ("api_cost", "api_cost.py", {"WINDOW": "5"},
     [("API: agent CPU per 1,000 watch events (ms)", ("agent_cpu_ms_per_1000_watch_events",), "lower")]),
    ("lifecycles", "lifecycles.py", {"LIFECYCLES": "1000"},
     [("memory: RSS after 1,000 lifecycles (KiB)", ("rss_kib", "end"), "lower"),
      ("memory: private RSS after 1,000 lifecycles (KiB)", ("anon_kib", "end"), "lower")]),
]


def run(name, script, env, binary):
    path = os.path.join(BENCH, f"{os.path.splitext(script)[0]}.json")
    if os.path.exists(path):
        os.unlink(path)
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "bench", script), binary], cwd=ROOT,
                          env=dict(os.environ, NODETRAIL_AGENT=binary, **env), capture_output=True, text=True)
    if proc.returncode != 0 or not os.path.exists(path):
        raise SystemExit(f"compare: {name} with {binary} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    with open(path) as f:
        return json.load(f)


def dig(d, keys):
    for k in keys:
        d = d[k]
    return float(d)


def fmt(v):
    return f"{v:.0f}" if abs(v) >= 1000 else f"{v:.4g}"


def report(doc):
    values, rounds = doc["values"], doc["rounds"]
    print(f"\nOld and new agent, {rounds} rounds each, alternating, kernel {os.uname().release}, "
          f"{doc.get('date', time.strftime('%Y-%m-%d'))}\n")
    print("| measure | old: median (min..max) | new: median (min..max) | new / old | better is |")
    print("| --- | ---: | ---: | ---: | --- |")
    for _, _, _, measures in RUNS:
        for label, _, better in measures:
            o, n = values["old"][label], values["new"][label]
            mo, mn = statistics.median(o), statistics.median(n)
            print(f"| {label} | {fmt(mo)} ({fmt(min(o))}..{fmt(max(o))}) | {fmt(mn)} ({fmt(min(n))}..{fmt(max(n))}) | "
                  f"{mn / mo if mo else float('nan'):.3f} | {better} |")


def main():
    if sys.argv[1:] == ["--report"]:
        with open(os.path.join(BENCH, "compare.json")) as f:
            report(json.load(f))
        return 0
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    binaries = {"old": os.path.abspath(sys.argv[1]), "new": os.path.abspath(sys.argv[2])}
    values = {v: {} for v in binaries}
    t0 = time.time()
    for r in range(ROUNDS):
        order = ["old", "new"] if r % 2 == 0 else ["new", "old"]
        for name, script, env, measures in RUNS:
            for v in order:
                got = run(name, script, env, binaries[v])
                for label, keys, _ in measures:
                    values[v].setdefault(label, []).append(dig(got, keys))
        print(f"compare: round {r + 1}/{ROUNDS} done ({time.time() - t0:.0f} s)", flush=True)
    os.makedirs(BENCH, exist_ok=True)
    with open(os.path.join(BENCH, "compare.json"), "w") as f:
        json.dump({"binaries": binaries, "rounds": ROUNDS, "date": time.strftime("%Y-%m-%d"), "values": values}, f,
                  indent=1)
    report({"values": values, "rounds": ROUNDS})
    return 0


if __name__ == "__main__":
    sys.exit(main())
