"""What the benchmarks share: the agent's memory and open files as the kernel counts them, its /metrics, and a
free local port."""
import os
import socket
import time
import urllib.request


def memory_kib(pid):
    """(VmRSS, RssAnon) in KiB: all resident pages, and the private (anonymous) part of them; the rest is
    shared library pages, file-backed and reclaimable."""
    with open(f"/proc/{pid}/status") as f:
        v = {line.split(":")[0]: int(line.split()[1]) for line in f if line.startswith(("VmRSS:", "RssAnon:"))}
    return v["VmRSS"], v["RssAnon"]


def settled_kib(pid, count=5, gap=0.1):
    """memory_kib's lowest of a few samples gap seconds apart: what the process keeps, not a transient
    (the checkpoint is built every 2 s and its cJSON tree lives for a moment)."""
    best = None
    for _ in range(count):
        cur = memory_kib(pid)
        best = cur if best is None or cur[0] < best[0] else best
        time.sleep(gap)
    return best


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def open_fds(pid):
    """How many file descriptors the process holds open."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def metrics(port):
    """The agent's /metrics as {'name' or 'name{labels}': value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return {k: float(v) for k, _, v in (line.rpartition(" ") for line in text.splitlines())
            if k and not k.startswith("#")}
