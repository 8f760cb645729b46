"""Hostile and huge objects, with the agent inside a 64 MiB memory cgroup (the DaemonSet's limit), at
start and at its next start: two pods on the node each carrying 460,000 empty container args (1.4 MiB
of JSON each) and 20,000 labels, a node event with a 1 MiB message. Parsed whole, one such pod took the
agent from 14 MiB to 66 MiB, and two made every restart an OOM kill. Now the objects are slimmed as
text before they are parsed, lists are read item by item as they stream in: the agent stays under its
limit without an OOM kill, the pods still join (identity, containers, statuses: their containers'
exits are recorded with the pod's name), and what was dropped is counted in agent.status. The
AddressSanitizer build runs the same objects without the limit (its shadow memory and quarantine are
not the agent's): memory errors, not memory use."""
import os
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakeapi"))
from agent import Agent, require_real_kernel, sanitized  # noqa: E402
from kubeapi import KubeAPI  # noqa: E402

NODE = "ip-10-0-1-23.ec2.internal"
LIMIT = 64 << 20
V1 = "/sys/fs/cgroup/memory"


def skip_class(why):
    raise unittest.SkipTest(why)


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def hostile_pod(i):
    return {"metadata": {"name": f"huge-{i}", "namespace": "shop", "uid": f"uid-huge-{i}",
                         "labels": {f"l{n}": "v" for n in range(20000)}},
            "spec": {"nodeName": NODE, "containers": [{"name": "app", "image": "shop/app:1",
                                                       "args": [""] * 460000}]},
            "status": {"phase": "Running", "containerStatuses": [{
                "name": "app", "containerID": "containerd://" + f"c{i}" * 32, "restartCount": 1,
                "state": {"running": {}},
                "lastState": {"terminated": {"exitCode": 3, "reason": "Error", "finishedAt": now(),
                                             "containerID": "containerd://" + f"e{i}" * 32}}}]}}


class MemoryCgroup:
    """A memory cgroup of its own (v1 here: this machine's hybrid hierarchy; v2 where memory is there)."""

    def __init__(self, limit):
        if os.path.exists(os.path.join(V1, "memory.limit_in_bytes")):
            self.path, self.v2 = os.path.join(V1, f"nodetrail-itest-{os.getpid()}"), False
        elif "memory" in open("/sys/fs/cgroup/cgroup.controllers").read():
            self.path, self.v2 = f"/sys/fs/cgroup/nodetrail-itest-{os.getpid()}", True
        else:
            raise unittest.SkipTest("no memory controller")
        os.makedirs(self.path, exist_ok=True)
        self.write("memory.max" if self.v2 else "memory.limit_in_bytes", str(limit))
        if not self.v2 and os.path.exists(os.path.join(self.path, "memory.memsw.limit_in_bytes")):
            self.write("memory.memsw.limit_in_bytes", str(limit))  # no escape into swap

    def write(self, name, value):
        with open(os.path.join(self.path, name), "w") as f:
            f.write(value)

    def read(self, name):
        with open(os.path.join(self.path, name)) as f:
            return f.read()

    def peak(self):
        return int(self.read("memory.peak" if self.v2 else "memory.max_usage_in_bytes"))

    def reset_peak(self):
        if not self.v2:
            self.write("memory.max_usage_in_bytes", "0")

    def oom_kills(self):
        text = self.read("memory.events" if self.v2 else "memory.oom_control")
        return int(dict(line.split() for line in text.splitlines()).get("oom_kill", 0))

    def procs(self):
        return os.path.join(self.path, "cgroup.procs")

    def remove(self):
        try:
            os.rmdir(self.path)
        except OSError:
            pass


class HostileObjects(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_real_kernel(skip_class)
        cls.asan = sanitized()
        cls.cg = MemoryCgroup(LIMIT if not cls.asan else 64 * LIMIT)
        cls.dir = tempfile.mkdtemp(prefix="nodetrail-hostile-")
        cls.api = KubeAPI(cls.dir, bookmark_interval=0.5)
        cls.api.upsert("nodes", {"metadata": {"name": NODE}, "spec": {}, "status": {}})
        for i in range(2):
            cls.api.upsert("pods", hostile_pod(i))
        cls.api.upsert("events", {
            "metadata": {"name": "big-message", "namespace": "default", "uid": "ev-big"},
            "involvedObject": {"kind": "Node", "name": NODE, "uid": NODE},
            "reason": "NodeNotReady", "type": "Warning", "message": "m" * (1 << 20),
            "source": {"component": "node-controller"}, "count": 1, "firstTimestamp": now(), "lastTimestamp": now()})

    @classmethod
    def tearDownClass(cls):
        cls.api.close()
        cls.cg.remove()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def start(self, tmp=None):
        agent = Agent("--api", "on", "--api-server", self.api.url, "--token-file", self.api.token_file,
                      "--ca-file", self.api.ca_file, "--imds", "off", "--join-window", "500", node=NODE, tmp=tmp)
        # into the cgroup before exec: everything the agent allocates is charged there
        agent.args = ["sh", "-c", 'echo $$ > "$0" && exec "$@"', self.cg.procs()] + agent.args
        self.addCleanup(lambda: agent.proc.poll() is None and agent.stop())  # also when an assertion fails
        return agent.start(timeout=30)

    def exits(self, agent):
        return sorted(r["pod"]["name"] for r in agent.records() if r["type"] == "container.exited")

    def test_under_the_limit_at_start_and_restart(self):
        self.cg.reset_peak()
        agent = self.start()
        # listed at start (item by item); then each restarts its container, told through the watch
        for i in range(2):
            pod = hostile_pod(i)
            st = pod["status"]["containerStatuses"][0]
            st["restartCount"] = 2
            st["lastState"]["terminated"].update(finishedAt=now(), containerID="containerd://" + f"7{i}" * 32)
            self.api.upsert("pods", pod)
            r = agent.wait_for(lambda r, i=i: r["type"] == "container.exited" and r["container"]["id"] == f"7{i}" * 32,
                               timeout=20, what=f"huge-{i}'s container exit")
            self.assertEqual((r["pod"]["name"], r["container"]["name"], r["api"]["restart_count"]),
                             (f"huge-{i}", "app", 2))
        ev = agent.wait_for(lambda r: r["type"] == "node.event", timeout=10, what="the node event")
        self.assertLess(len(ev["summary"]), 8192)
        first_peak = self.cg.peak()
        self.assertEqual(self.cg.oom_kills(), 0)
        # parsed whole, each such pod alone costs some 50 MiB of cJSON: slimmed, nothing near that
        if not self.asan:
            self.assertLess(first_peak, LIMIT // 2, f"peak {first_peak >> 20} MiB")
        rc, _ = agent.stop()
        self.assertEqual(rc, 0, agent.log()[-2000:])
        status = [r for r in agent.records() if r["type"] == "agent.status"][-1]["agent"]
        self.assertEqual(status["api"]["pods"], 2)
        slimmed = status["api"]["slimmed"]
        self.assertGreaterEqual(slimmed["values_dropped"], 3 * (20000 - 256))  # labels over the cap, args
        self.assertGreaterEqual(slimmed["strings_cut"], 1)                     # the 1 MiB message
        self.assertLess(slimmed["bytes_out"] * 20, slimmed["bytes_in"])
        # the next start, the same objects, the checkpoint read back
        self.cg.reset_peak()
        agent = self.start(tmp=agent.tmp)
        time.sleep(3)
        self.assertIsNone(agent.proc.poll(), agent.log()[-2000:])
        rc, _ = agent.stop()
        self.assertEqual(rc, 0, agent.log()[-2000:])
        self.assertEqual(self.cg.oom_kills(), 0)
        if not self.asan:
            self.assertLess(self.cg.peak(), LIMIT)
        status = [r for r in agent.records() if r["type"] == "agent.status"][-1]["agent"]
        self.assertEqual((status["api"]["pods"], status["api"]["synced"]), (2, True))
        print(f"\n  hostile objects: peak {first_peak >> 20} MiB at start, {self.cg.peak() >> 20} MiB at the next "
              f"(limit {LIMIT >> 20} MiB); slimmed {slimmed['bytes_in'] >> 10} KiB to {slimmed['bytes_out'] >> 10} KiB",
              file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
