"""What the benchmarks share: the agent's memory as the kernel counts it, and a free local port."""
import socket


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
