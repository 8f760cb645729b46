"""The loop never waits for the disk. The record file and the checkpoint live on a FUSE file system
whose writes and fsyncs stall on demand (tests/integration/stallfs.c); for 30 s under steady load (a
pod added and deleted every 100 ms through the stand-in API server, an agent.status every second) the
disk accepts nothing. Meanwhile /healthz answers within 100 ms every time it is asked, nothing is
dropped, and the records wait in memory; once the disk is back, every record is in the file once, in
order, with contiguous seq, and the checkpoint is written again. Run through io_uring and through the
worker thread that replaces it where a seccomp profile refuses io_uring."""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakeapi"))
from agent import REQUIRE, Agent  # noqa: E402
from kubeapi import KubeAPI  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
NODE = "ip-10-0-3-7.ec2.internal"
STALL_S = float(os.environ.get("STALL_SECONDS", "30"))


def missing():
    if os.geteuid() != 0:
        return "not root"
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse"
    if subprocess.run(["pkg-config", "--exists", "fuse3"]).returncode != 0:
        return "libfuse3-dev not installed (tests/deps.sh installs it)"
    if not shutil.which("fusermount3"):
        return "fuse3 not installed (tests/deps.sh installs it)"
    return None


def build_stallfs(directory):
    out = os.path.join(directory, "stallfs")
    flags = subprocess.run(["pkg-config", "fuse3", "--cflags", "--libs"], check=True, capture_output=True,
                           text=True).stdout.split()
    subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter", "-o", out,
                    os.path.join(HERE, "stallfs.c")] + flags + ["-lpthread"], check=True)
    return out


class StallFS:
    def __init__(self, binary, directory):
        self.backing = os.path.join(directory, "backing")
        self.mnt = os.path.join(directory, "mnt")
        os.makedirs(self.backing)
        os.makedirs(self.mnt)
        self.log = open(os.path.join(directory, "stallfs.log"), "w")
        self.proc = subprocess.Popen([binary, self.backing, self.mnt, "-f"], stderr=self.log)
        deadline = time.time() + 5
        while not os.path.ismount(self.mnt):
            if time.time() > deadline or self.proc.poll() is not None:
                raise AssertionError("stallfs did not mount")
            time.sleep(0.05)

    def stall(self):
        self.proc.send_signal(signal.SIGUSR1)

    def release(self):
        self.proc.send_signal(signal.SIGUSR2)

    def close(self):
        self.release()
        subprocess.run(["fusermount3", "-u", "-z", self.mnt])
        self.proc.terminate()
        self.proc.wait(timeout=5)
        self.log.close()


class Prober(threading.Thread):
    """/healthz every 50 ms; the slowest answer and any failure are kept."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.url = f"http://127.0.0.1:{port}/healthz"
        self.stop = threading.Event()
        self.slowest = 0.0
        self.failures = []
        self.asked = 0

    def run(self):
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                with urllib.request.urlopen(self.url, timeout=2) as r:
                    if r.status != 200:
                        self.failures.append(r.status)
            except Exception as e:  # noqa: BLE001
                self.failures.append(repr(e))
            self.slowest = max(self.slowest, time.monotonic() - t0)
            self.asked += 1
            time.sleep(0.05)


class Load(threading.Thread):
    """A pod added (Running, Ready) and the one before it deleted, every 100 ms."""

    def __init__(self, api):
        super().__init__(daemon=True)
        self.api = api
        self.stop = threading.Event()
        self.n = 0

    def run(self):
        while not self.stop.is_set():
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            name = f"load-{self.n}"
            self.api.upsert("pods", {
                "metadata": {"name": name, "namespace": "stall"},
                "spec": {"nodeName": NODE, "containers": [{"name": "app"}]},
                "status": {"phase": "Running", "conditions": [
                    {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
                    {"type": "Ready", "status": "True", "lastTransitionTime": now}]}})
            if self.n:
                self.api.delete("pods", "stall", f"load-{self.n - 1}")
            self.n += 1
            time.sleep(0.1)


def metric(port, name):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return {m.group(1) or "": int(m.group(2)) for m in re.finditer(rf"(?m)^nodetrail_{name}(\{{[^}}]*\}})? (\d+)$", text)}


class DiskStall(unittest.TestCase):
    def setUp(self):
        why = missing()
        if why:
            if REQUIRE:
                raise AssertionError(f"REQUIRE_BPF=1 but {why}")
            self.skipTest(why)
        self.dir = tempfile.mkdtemp(prefix="nodetrail-stall-")
        self.fs = StallFS(build_stallfs(self.dir), self.dir)
        self.api = KubeAPI(self.dir, bookmark_interval=1.0)
        self.api.upsert("nodes", {"metadata": {"name": NODE}, "spec": {}, "status": {}})

    def tearDown(self):
        if hasattr(self, "fs"):
            self.fs.release()
            if getattr(self, "agent", None) and self.agent.proc.poll() is None:
                self.agent.proc.kill()
                self.agent.proc.wait()
            self.api.close()
            self.fs.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        if getattr(self, "agent", None):
            shutil.rmtree(self.agent.tmp, ignore_errors=True)

    def run_stall(self, env):
        # the records and the checkpoint on the stalling disk; the agent's own log (its stderr, which a
        # container runtime takes through a pipe) beside it
        out, state = os.path.join(self.fs.mnt, "out"), os.path.join(self.fs.mnt, "state")
        os.makedirs(out)
        self.agent = Agent("--bpf", "off", "--api", "on", "--api-server", self.api.url, "--token-file",
                           self.api.token_file, "--ca-file", self.api.ca_file, "--imds", "off",
                           "--metrics-addr", "127.0.0.1:0", "--status-interval", "1", "--checkpoint-interval", "1",
                           "--output-dir", out, "--state-dir", state, node=NODE, env=env)
        self.agent.out = out
        self.agent.start()
        port = int(re.search(r"port (\d+)", self.agent.log()).group(1))
        load, prober = Load(self.api), Prober(port)
        load.start()
        prober.start()
        time.sleep(3)
        size_before = os.path.getsize(self.agent.files()[0])
        saves_before = self.agent.wait_for(lambda r: r["type"] == "agent.status" and
                                           r["agent"]["checkpoint"]["saves"] > 0, what="a checkpoint")
        self.fs.stall()
        time.sleep(0.5)
        stalled_size = os.path.getsize(os.path.join(self.fs.backing, "out",
                                                    os.path.basename(self.agent.files()[0])))
        queued = 0
        t_end = time.time() + STALL_S
        while time.time() < t_end:
            queued = max(queued, metric(port, "writer_queue_lines")[""])
            time.sleep(1)
        # the disk took nothing meanwhile: the records waited in memory
        self.assertEqual(os.path.getsize(os.path.join(self.fs.backing, "out",
                                                      os.path.basename(self.agent.files()[0]))), stalled_size)
        # about 20 records a second are made: most of them must have waited
        self.assertGreater(queued, STALL_S * 5, "the stall held no records back: the test proves nothing")
        self.assertGreaterEqual(metric(port, "io_in_flight")[""], 1)
        drops = metric(port, "dropped_total")
        self.assertEqual(sum(drops.values()), 0, drops)
        self.fs.release()
        time.sleep(3)
        load.stop.set()
        load.join()
        prober.stop.set()
        prober.join()
        rc, _ = self.agent.stop(timeout=15)
        self.assertEqual(rc, 0, self.agent.log()[-2000:])
        self.assertEqual(prober.failures, [])
        self.assertGreater(prober.asked, STALL_S * 10)
        self.assertLess(prober.slowest, 0.1, f"/healthz took {prober.slowest * 1000:.0f} ms")
        recs = self.agent.records()
        self.assertEqual([r["seq"] for r in recs], list(range(1, len(recs) + 1)))
        self.assertEqual(len({r["record_id"] for r in recs}), len(recs))
        self.assertGreater(os.path.getsize(self.agent.files()[0]), size_before)
        started = {r["pod"]["name"] for r in recs if r["type"] == "pod.started"}
        ended = {r["pod"]["name"] for r in recs if r["type"] == "pod.terminated"}
        self.assertEqual(started, {f"load-{i}" for i in range(load.n)})
        self.assertEqual(ended, {f"load-{i}" for i in range(load.n - 1)})
        stop = recs[-1]
        self.assertEqual((stop["type"], stop["agent"]["state"]), ("agent.status", "stopping"))
        self.assertEqual(stop["agent"]["records_dropped"], 0)
        self.assertGreater(stop["agent"]["checkpoint"]["saves"], saves_before["agent"]["checkpoint"]["saves"])
        self.assertEqual(stop["agent"]["checkpoint"]["failures"], 0)
        return stop

    def test_io_uring(self):
        stop = self.run_stall({})
        self.assertEqual(stop["agent"]["io"], "io_uring")

    def test_worker_thread(self):
        stop = self.run_stall({"NODETRAIL_DISABLE_IO_URING": "1"})
        self.assertEqual(stop["agent"]["io"], "write")


if __name__ == "__main__":
    unittest.main()
