"""Ring buffer under the highest event rate this machine generates: one container per CPU, each a
shell sending itself SIGTERMs in a loop (kill is a builtin: no fork, no exec, the cheapest event there
is), with the default 256 KiB ring buffer. Reports events/s produced, the share the agent read
(ringbuf_events / (events + drops)), and the drops: the target is zero. The same burst into a 4 KiB
buffer is the baseline that shows the counting works (it must drop). JSON to build/bench/ringbuf.json.
"""
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
os.environ.setdefault("NODETRAIL_AGENT", os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/nodetrail"))
import containers  # noqa: E402
from agent import Agent, missing_prerequisite  # noqa: E402

SIGNALS = int(os.environ.get("SIGNALS", "100000"))


def burst(rootfs, ringbuf_kib):
    agent = Agent("--ringbuf-size", str(ringbuf_kib), "--api", "off", "--imds", "off", "--log-level", "info").start()
    script = f"trap : TERM; i=0; while [ $i -lt {SIGNALS} ]; do kill -TERM $$; i=$((i+1)); done; exit 0"
    cs = [containers.Container(rootfs, ["sh", "-c", script]) for _ in range(os.cpu_count() or 1)]
    t0 = time.time()
    for c in cs:
        c.start()
    for c in cs:
        c.wait(300)
    took = time.time() - t0
    time.sleep(1.0)  # let the agent read what is left
    for c in cs:
        c.remove()
    agent.stop()
    st = [r for r in agent.records() if r["type"] == "agent.status"][-1]["agent"]
    got, lost = st["ringbuf_events"]["signal"], st["ringbuf_drops"]["signal"]
    produced = len(cs) * SIGNALS
    return {"ringbuf_kib": ringbuf_kib, "containers": len(cs), "signals": produced, "seconds": round(took, 2),
            "events_per_s": round(produced / took), "read": got, "dropped": lost,
            "accounted": got + lost == produced}


def main():
    why = missing_prerequisite()
    if why:
        print(f"ringbuf: skipped: {why}")
        return 0
    containers.kubelet_roots()
    rootfs = containers.Rootfs()
    try:
        rows = [burst(rootfs, 4), burst(rootfs, 256)]
    finally:
        rootfs.remove()
    os.makedirs("build/bench", exist_ok=True)
    with open("build/bench/ringbuf.json", "w") as f:
        json.dump(rows, f, indent=1)
    print(f"Ring-buffer burst: {rows[0]['containers']} containers x {SIGNALS} self-sent SIGTERMs, "
          f"kernel {os.uname().release}, {time.strftime('%Y-%m-%d')}\n")
    print("| ring buffer | events/s produced | read | dropped | read / produced | all accounted |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        print(f"| {r['ringbuf_kib']} KiB{' (default)' if r['ringbuf_kib'] == 256 else ''} | {r['events_per_s']} | "
              f"{r['read']} | {r['dropped']} | {r['read'] / r['signals']:.3f} | {r['accounted']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
