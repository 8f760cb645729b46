"""nodetrail demo: the agent, a few scripted runc containers, and the records it wrote.

Usage (root): python3 tests/demo.py AGENT_BINARY
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "integration"))
os.environ.setdefault("NODETRAIL_AGENT", sys.argv[1] if len(sys.argv) > 1 else "build/nodetrail")

import containers  # noqa: E402
from agent import Agent  # noqa: E402

STEPS = 6


def step(n, text):
    print(f"[{n}/{STEPS}] {text}", flush=True)


def main():
    if os.geteuid() != 0:
        sys.exit("demo: needs root (eBPF, runc)")
    containers.cleanup_stale()
    containers.kubelet_roots()
    rootfs = containers.Rootfs()
    agent = Agent(node="ip-10-0-1-23.ec2.internal")
    started = []

    def run(args, **kw):
        c = containers.Container(rootfs, args, **kw)
        started.append(c)
        return c.start()

    try:
        step(1, "starting nodetrail (eBPF probes, records to " + agent.out + ")")
        agent.start()
        step(2, "a container that exits with code 3 (cgroupfs layout)")
        c = run(["sh", "-c", "sleep 0.3; exit 3"])
        c.wait()
        step(3, "a container stopped with SIGTERM from outside, exiting gracefully (systemd layout)")
        c = run(["sh", "-c", "trap 'exit 143' TERM; sleep 1000 & wait"], layout="systemd")
        time.sleep(0.3)
        c.kill("TERM")
        c.wait()
        step(4, "a container OOM-killed at its 32 MiB memory limit")
        c = run(["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"], memory_limit=32 << 20)
        c.wait()
        step(5, "an exec into a running container (what kubectl exec does), then SIGKILL")
        c = run(["sh", "-c", "while true; do sleep 1; done"], qos="besteffort")
        time.sleep(0.3)
        c.exec(["/bin/true"])
        c.kill("KILL")
        c.wait()
        time.sleep(0.5)
        step(6, "stopping nodetrail")
        rc, took = agent.stop()
    finally:
        if agent.proc and agent.proc.poll() is None:
            agent.proc.kill()
        for c in started:
            c.remove()
        rootfs.remove()

    print()
    print("Timeline (what Fluent Bit would ship to CloudWatch Logs):")
    for r in agent.records():
        t = r["event_time"][11:23]
        print(f"  {t}  {r['type']:<21} {r['summary']}")
    print()
    print(f"Record file: {agent.files()[0]}")
    print("One record in full:")
    recs = [r for r in agent.records() if r["type"] == "container.oom_killed"]
    print(json.dumps(recs[0] if recs else agent.records()[-1], indent=2))
    print(f"\nagent exited {rc} after SIGTERM in {took:.2f} s")
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
