"""Startup to ready: from exec to /readyz answering 200 (probes attached, startup scan done, the first
list of pods, node and events done), with 110 pods on the node in the stand-in API server; eBPF on
against eBPF off as the baseline (the ratio is what loading and attaching the probes costs). Also the
BPF memory the agent holds (maps and programs, from bpftool). JSON to build/bench/startup.json."""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "tests", "fakeapi"))
os.environ.setdefault("NODETRAIL_AGENT", os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/nodetrail"))
from agent import Agent, missing_prerequisite  # noqa: E402
from kubeapi import KubeAPI  # noqa: E402
from benchutil import free_port, memory_kib  # noqa: E402

RUNS = int(os.environ.get("RUNS", "10"))
NODE = "ip-10-0-1-23.ec2.internal"


def ready(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
            return r.status == 200
    except Exception:
        return False


def bpf_memory():
    maps = json.loads(subprocess.run(["bpftool", "-j", "map", "show"], capture_output=True, text=True).stdout or "[]")
    progs = json.loads(subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True).stdout or "[]")
    m = sum(x.get("bytes_memlock", 0) for x in maps if x.get("name", "").startswith("nt_"))
    p = sum(x.get("bytes_memlock", 0) for x in progs if x.get("name", "").startswith("nt_"))
    return m, p


def one(api, bpf):
    port = free_port()
    agent = Agent("--bpf", bpf, "--api", "on", "--api-server", api.url, "--token-file", api.token_file, "--ca-file",
                  api.ca_file, "--imds", "off", "--metrics-addr", f"127.0.0.1:{port}", "--log-level", "info", node=NODE)
    agent.stderr = open(agent.stderr_path, "w")
    t0 = time.monotonic()
    agent.proc = subprocess.Popen(agent.args, stdout=subprocess.DEVNULL, stderr=agent.stderr, env=agent.env)
    while not ready(port):
        if agent.proc.poll() is not None:
            raise SystemExit("startup: the agent exited: " + agent.log()[-2000:])
        time.sleep(0.002)
    took = time.monotonic() - t0
    time.sleep(1.5)  # the agent trims its heap once the first lists are in
    mem = bpf_memory() + (memory_kib(agent.proc.pid),) if bpf == "on" else (0, 0, (0, 0))
    agent.stop()
    shutil.rmtree(agent.tmp, ignore_errors=True)
    return took, mem


def main():
    why = missing_prerequisite()
    if why:
        print(f"startup: skipped: {why}")
        return 0
    tmp = tempfile.mkdtemp(prefix="nodetrail-startup-")
    api = KubeAPI(tmp, bookmark_interval=60)
    api.upsert("nodes", {"metadata": {"name": NODE}, "spec": {}, "status": {}})
    for i in range(110):
        api.upsert("pods", {"metadata": {"name": f"web-{i}", "namespace": "shop", "uid": f"00000000-0000-0000-0000-{i:012d}"},
                            "spec": {"nodeName": NODE, "containers": [{"name": "app", "image": "shop/web:1"}]},
                            "status": {"phase": "Running", "containerStatuses": [
                                {"name": "app", "containerID": "containerd://" + f"{i:064x}", "state": {"running": {}}}]}})
    res = {"off": [], "on": []}
    mem = (0, 0, (0, 0))
    try:
        for _ in range(RUNS):  # interleaved: both variants see the same machine
            for bpf in ("off", "on"):
                took, m = one(api, bpf)
                res[bpf].append(took)
                mem = m if bpf == "on" else mem
    finally:
        api.close()
        shutil.rmtree(tmp, ignore_errors=True)
    off, on = statistics.median(res["off"]), statistics.median(res["on"])
    out = {"runs": RUNS, "ready_s": res, "median_s": {"off": off, "on": on}, "ratio": on / off,
           "bpf_map_bytes": mem[0], "bpf_prog_bytes": mem[1], "rss_kib_ready_110_pods": mem[2][0],
           "anon_rss_kib_ready_110_pods": mem[2][1]}
    os.makedirs("build/bench", exist_ok=True)
    with open("build/bench/startup.json", "w") as f:
        json.dump(out, f, indent=1)
    print(f"Startup to ready (exec -> /readyz 200, 110 pods listed), {RUNS} runs each, kernel {os.uname().release}, "
          f"{time.strftime('%Y-%m-%d')}\n")
    print("| variant | median ms | max ms | ratio to eBPF off |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| eBPF off (API, IMDS off) | {off * 1000:.0f} | {max(res['off']) * 1000:.0f} | 1.00 |")
    print(f"| eBPF on (probes, scan, API) | {on * 1000:.0f} | {max(res['on']) * 1000:.0f} | {on / off:.2f} |")
    print(f"\nBPF memory held: maps {mem[0] // 1024} KiB, programs {mem[1] // 1024} KiB (bpftool bytes_memlock)")
    print(f"agent RSS with 110 pods listed: {mem[2][0]} KiB, of which private (anonymous) {mem[2][1]} KiB; "
          "the rest is shared library pages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
