"""What the benchmarks share: the agent's memory and open files as the kernel counts them, its /metrics, and a
free local port."""
import os
import socket
import urllib.request


def memory_kib(pid):
    """(VmRSS, RssAnon) in KiB: all resident pages, and the private (anonymous) part of them; the rest is
    shared library pages, file-backed and reclaimable."""
    with open(f"/proc/{pid}/status") as f:
        v = {line.split(":")[0]: int(line.split()[1]) for line in f if line.startswith(("VmRSS:", "RssAnon:"))}
    return v["VmRSS"], v["RssAnon"]


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
