"""A spot interruption drains the node: three pods, one stops gracefully on SIGTERM, one ignores
it and is SIGKILLed, one is still running at the deadline. The drain report says so, per pod."""
import glob
import json
import os
import signal
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from collections import Counter

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakeapi"))
import containers  # noqa: E402
from agent import REQUIRE, Agent, require_real_kernel  # noqa: E402
from imds import IMDS  # noqa: E402
from kubeapi import KubeAPI  # noqa: E402

NODE = "ip-10-0-1-23.ec2.internal"


class DrainBase(unittest.TestCase):
    """A node with the stand-in API server and IMDS, and the agent watching it."""

    def setUp(self):
        require_real_kernel(self.skipTest)
        containers.kubelet_roots()
        self.rootfs = containers.Rootfs()
        self.dir = tempfile.mkdtemp(prefix="nodetrail-drain-")
        self.api = KubeAPI(self.dir, bookmark_interval=0.5)
        self.imds = IMDS()
        self.api.upsert("nodes", {"metadata": {"name": NODE}, "spec": {}, "status": {}})
        self.agent = Agent("--api", "on", "--api-server", self.api.url, "--token-file", self.api.token_file,
                           "--ca-file", self.api.ca_file, "--imds", "on", "--imds-endpoint", self.imds.url,
                           "--imds-poll", "1", "--join-window", "1000", node=NODE).start()
        self.cs = []

    def tearDown(self):
        if self.agent.proc.poll() is None:
            self.agent.stop()
        for c in self.cs:
            c.remove()
        self.api.close()
        self.imds.close()
        self.rootfs.remove()
        shutil.rmtree(self.dir, ignore_errors=True)

    def pod(self, name, script):
        c = containers.Container(self.rootfs, ["sh", "-c", script])
        self.cs.append(c)
        self.api.upsert("pods", {"metadata": {"name": name, "namespace": "shop", "uid": c.pod_uid},
                                 "spec": {"nodeName": NODE, "containers": [{"name": "app"}]},
                                 "status": {"phase": "Running", "containerStatuses": [
                                     {"name": "app", "containerID": "containerd://" + c.id, "state": {"running": {}}}]}})
        return c.start()

    def own(self, d):
        """This test's pods of a drain report (by name), and their containers' verdicts counted;
        another container on the node may be in the report too, and is not this test's business.
        The report's totals must add up over all of its pods."""
        mine = {c.pod_uid for c in self.cs}
        every = Counter(c["verdict"] for p in d["by_pod"].values() for c in p["containers"])
        self.assertEqual((d["graceful"], d["still_running"], d["ended_unseen"]),
                         (every["graceful"], every["still_running"], every["ended_unseen"]), d)
        self.assertEqual(d["pods"], len(d["by_pod"]), d)
        pods = {p.get("name"): p for uid, p in d["by_pod"].items() if uid in mine}
        self.assertEqual(len(pods), len(mine), d)
        return ({name: p["containers"][0] for name, p in pods.items()},
                Counter(c["verdict"] for p in pods.values() for c in p["containers"]))


class SpotDrain(DrainBase):
    def test_drain_report(self):
        graceful = self.pod("graceful-1", "trap 'exit 0' TERM; while true; do sleep 0.2; done")
        stubborn = self.pod("stubborn-1", "trap '' TERM; while true; do sleep 0.2; done")
        self.pod("busy-1", "while true; do sleep 0.2; done")
        deadline = time.time() + 10  # slack: the kills must land before it even on a loaded machine
        self.imds.set_spot_action("terminate", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(deadline)))
        self.agent.wait_for(lambda r: r["type"] == "node.interruption", timeout=5, what="node.interruption")
        graceful.kill("TERM")
        stubborn.kill("TERM")
        time.sleep(1.0)
        stubborn.kill("KILL")
        r = self.agent.wait_for(lambda r: r["type"] == "node.drain_report" and r["drain"]["final"], timeout=20,
                                what="the final node.drain_report")
        d = r["drain"]
        self.assertEqual(d["reported"], "at the deadline")
        # the report a lead (15 s) before the deadline came first: here at once, the deadline being closer
        early = [x for x in self.agent.records() if x["type"] == "node.drain_report" and not x["drain"]["final"]]
        self.assertEqual([x["drain"]["reported"] for x in early], ["before the deadline"])
        self.assertEqual((early[0]["drain"]["page"], early[0]["drain"]["pages"]), (1, 1))
        self.assertEqual(early[0]["drain"]["drain_id"], d["drain_id"])
        by_name, verdicts = self.own(d)
        self.assertEqual((verdicts["graceful"], verdicts["killed"], verdicts["still_running"]), (1, 1, 1), d)
        self.assertEqual(by_name["graceful-1"]["verdict"], "graceful", d)
        self.assertIn("sigterm_at", by_name["graceful-1"])
        self.assertEqual(by_name["stubborn-1"]["verdict"], "killed", d)
        self.assertIn("sigkill_at", by_name["stubborn-1"])
        # `trap '' TERM`: the kernel ignored its SIGTERM, and says so; the graceful one's was delivered
        self.assertTrue(by_name["stubborn-1"].get("sigterm_ignored"), d)
        self.assertNotIn("sigterm_ignored", by_name["graceful-1"])
        self.assertEqual(by_name["busy-1"]["verdict"], "still_running", d)
        self.assertIn("%d pods, %d container%s stopped gracefully before the deadline, %d killed, %d still running" % (
            d["pods"], d["graceful"], "" if d["graceful"] == 1 else "s", d["killed"], d["still_running"]), r["summary"])


class RestartMidDrain(DrainBase):
    """The agent restarts in the middle of a drain (a rolling update: SIGTERM; a crash: kill -9). The
    next run takes the checkpoint over: one node.interruption, one final drain report at the deadline,
    with the SIGTERMs seen before the restart and the container that ended while the agent was down."""

    def setUp(self):
        super().setUp()
        self.agent.stop()
        self.args = self.agent.args[1:]
        self.agent = Agent(*self.args[self.args.index("--api"):], "--checkpoint-interval", "1",
                           node=NODE, tmp=self.agent.tmp).start()

    def restart_mid_drain(self, sig):
        graceful = self.pod("graceful-1", "trap 'exit 0' TERM; while true; do sleep 0.2; done")
        stubborn = self.pod("stubborn-1", "trap '' TERM; while true; do sleep 0.2; done")
        self.pod("busy-1", "while true; do sleep 0.2; done")
        deadline = time.time() + 14
        self.imds.set_spot_action("terminate", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(deadline)))
        self.agent.wait_for(lambda r: r["type"] == "node.interruption", timeout=5, what="node.interruption")
        graceful.kill("TERM")
        stubborn.kill("TERM")
        self.agent.wait_for(lambda r: r["type"] == "container.exited" and r["container"]["id"] == graceful.id,
                            timeout=5, what="graceful-1 exited")
        time.sleep(2.5)  # a checkpoint after the SIGTERMs
        if sig == signal.SIGKILL:
            self.agent.proc.send_signal(signal.SIGKILL)
            self.agent.proc.wait()
            self.agent.stderr.close()
        else:
            rc, _ = self.agent.stop()
            self.assertEqual(rc, 0)
        stubborn.kill("KILL")  # while the agent is down
        time.sleep(0.5)
        self.agent = Agent(*self.args[self.args.index("--api"):], "--checkpoint-interval", "1",
                           node=NODE, tmp=self.agent.tmp).start()
        r = self.agent.wait_for(lambda r: r["type"] == "node.drain_report" and r["drain"]["final"],
                                timeout=25, what="the final node.drain_report")
        recs = self.agent.records()
        self.assertEqual(len([x for x in recs if x["type"] == "node.interruption"]), 1)
        self.assertEqual(len({x["record_id"] for x in recs}), len(recs), "a record written twice")
        self.assertEqual([x["seq"] for x in recs], list(range(1, len(recs) + 1)))
        # the report before the deadline was written before the restart (the deadline is within the
        # lead); taken over, it is not written again, and the stop had none left to write
        early = [x for x in recs if x["type"] == "node.drain_report" and not x["drain"]["final"]]
        self.assertEqual([x["drain"]["reported"] for x in early], ["before the deadline"])
        d = r["drain"]
        self.assertEqual(d["reported"], "at the deadline")
        by_name, verdicts = self.own(d)
        self.assertEqual(by_name["graceful-1"]["verdict"], "graceful", d)
        self.assertIn("sigterm_at", by_name["graceful-1"])
        self.assertEqual(by_name["stubborn-1"]["verdict"], "ended_unseen", d)
        self.assertIn("sigterm_at", by_name["stubborn-1"])  # seen before the restart
        self.assertEqual(by_name["busy-1"]["verdict"], "still_running", d)
        self.assertEqual((verdicts["graceful"], verdicts["killed"], verdicts["still_running"],
                          verdicts["ended_unseen"]), (1, 0, 1, 1), d)
        self.assertIn("1 ended while the agent was down", r["summary"])
        started = [x for x in recs if x["type"] == "agent.status" and x["agent"]["state"] == "started"][-1]
        self.assertTrue(started["agent"]["checkpoint"]["restored"].startswith("same boot"), started)

    def test_sigterm_mid_drain(self):
        self.restart_mid_drain(signal.SIGTERM)

    def test_kill_9_mid_drain(self):
        self.restart_mid_drain(signal.SIGKILL)


if __name__ == "__main__":
    unittest.main()


class BigDrain(unittest.TestCase):
    """A drain of 250 pods, three kinds of end, reported in pages; the agent is killed (kill -9) while
    the pages are being written: the disk takes the first pages and part of the next, then nothing.
    The next run writes the report again: the pages already in the file are not written twice, the
    others are, and the pages put together say exactly what happened to each of the 250 pods."""

    PODS = 250

    def setUp(self):
        require_real_kernel(self.skipTest)
        from test_stall import StallFS, build_stallfs, missing
        why = missing()
        if why:
            if REQUIRE:
                self.fail(why)
            self.skipTest(why)
        containers.kubelet_roots()
        self.dir = tempfile.mkdtemp(prefix="nodetrail-bigdrain-")
        self.fs = StallFS(build_stallfs(self.dir), self.dir)
        self.api = KubeAPI(self.dir, bookmark_interval=0.5)
        self.imds = IMDS()
        self.api.upsert("nodes", {"metadata": {"name": NODE}, "spec": {}, "status": {}})
        self.cs = []
        self.agent = None

    def tearDown(self):
        if self.agent and self.agent.proc and self.agent.proc.poll() is None:
            self.agent.proc.kill()
            self.agent.proc.wait()
        if self.agent and getattr(self.agent, "stderr", None):
            self.agent.stderr.close()
        for c in self.cs:
            c.remove()
        self.fs.close()
        self.api.close()
        self.imds.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start_agent(self, tmp=None):
        a = Agent("--api", "on", "--api-server", self.api.url, "--token-file", self.api.token_file,
                  "--ca-file", self.api.ca_file, "--imds", "on", "--imds-endpoint", self.imds.url,
                  "--imds-poll", "1", "--join-window", "1000", "--checkpoint-interval", "1",
                  "--output-dir", self.fs.mnt, node=NODE, tmp=tmp)
        a.out = self.fs.mnt
        if tmp is None:
            return a.start()
        # after the kill, the file holds a cut line: Agent.start would stop at it; Fluent Bit skips it
        a.stderr = open(a.stderr_path, "w")
        a.proc = subprocess.Popen(a.args, stdout=subprocess.DEVNULL, stderr=a.stderr, env=a.env)
        t0 = time.time()
        while not any(r["type"] == "agent.status" and r["agent"].get("pid") == a.proc.pid
                      for r in self.file_lines()[0]):
            self.assertLess(time.time() - t0, 15, "the agent did not start again")
            self.assertIsNone(a.proc.poll(), "the agent exited at its restart")
            time.sleep(0.1)
        return a

    def budget(self, n):
        """stallfs: n bytes more reach the disk, then writes stall (-1 lifts it, -2 fails every write)"""
        with open(os.path.join(self.dir, "stall-budget"), "w") as f:
            f.write(str(n))
        self.fs.proc.send_signal(signal.SIGHUP)
        time.sleep(0.1)

    def fs_log(self):
        with open(os.path.join(self.dir, "stallfs.log")) as f:
            return f.read()

    def file_lines(self):
        """(records, lines that are not whole records): the file as Fluent Bit would read it"""
        recs, broken = [], 0
        for path in glob.glob(os.path.join(self.fs.backing, "*.log")):
            with open(path, errors="replace") as f:
                for line in f.read().splitlines():
                    try:
                        recs.append(json.loads(line.split(" ", 3)[3]))
                    except (IndexError, ValueError):
                        broken += 1
        return recs, broken

    def report_pages(self):
        recs, broken = self.file_lines()
        return [r for r in recs if r["type"] == "node.drain_report" and not r["drain"]["final"]], broken

    def test_250_pods_killed_between_two_pages(self):
        self.agent = self.start_agent()
        truth = {}
        for i in range(self.PODS):
            c = containers.CgroupProcess().start()
            self.cs.append(c)
            self.api.upsert("pods", {"metadata": {"name": f"web-{i:03d}", "namespace": "shop", "uid": c.pod_uid},
                                     "spec": {"nodeName": NODE, "containers": [{"name": "app"}]},
                                     "status": {"phase": "Running", "containerStatuses": [
                                         {"name": "app", "containerID": "containerd://" + c.id,
                                          "state": {"running": {}}}]}})
            truth[c.pod_uid] = ("graceful", "killed", "still_running")[i % 3]
        time.sleep(3)  # every cgroup and first exec seen
        deadline = time.time() + 30  # the report is due 15 s before: there is time to stop the containers
        self.imds.set_spot_action("terminate", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(deadline)))
        self.agent.wait_for(lambda r: r["type"] == "node.interruption", timeout=5, what="node.interruption")
        for i, c in enumerate(self.cs):
            if i % 3 == 0:
                c.kill("TERM")
            elif i % 3 == 1:
                c.kill("KILL")
        for i, c in enumerate(self.cs):
            if i % 3 != 2:
                self.assertTrue(c.wait(5))
        # the disk takes 30 KB more, then nothing: the report starts, and stops mid-page
        time.sleep(max(0.0, deadline - 15 - time.time() - 3))
        self.budget(30000)
        t0 = time.time()
        while "budget spent" not in self.fs_log():
            self.assertLess(time.time() - t0, 20, "the report never reached the disk")
            time.sleep(0.1)
        time.sleep(0.5)
        self.agent.proc.send_signal(signal.SIGKILL)
        # the killed agent's io_uring waits for the write it has in flight: the disk, gone, fails it
        self.budget(-2)
        self.agent.proc.wait()
        self.agent.stderr.close()
        before, _ = self.report_pages()
        self.assertTrue(before, "no page was written before the kill")
        pages = before[0]["drain"]["pages"]
        self.assertGreater(pages, len(before), "every page was written before the kill: no test of a restart")
        self.budget(-1)

        self.agent = self.start_agent(tmp=self.agent.tmp)
        t0 = time.time()
        while True:
            got, broken = self.report_pages()
            numbers = sorted(p["drain"]["page"] for p in got)
            if numbers == list(range(1, pages + 1)):
                break
            self.assertLess(time.time() - t0, 20, f"pages {numbers} of {pages} after the restart")
            self.assertEqual(len(numbers), len(set(numbers)), f"a page written twice: {numbers}")
            time.sleep(0.2)
        self.assertLessEqual(broken, 1)  # the line the kill cut, at most
        self.assertEqual(len({p["drain"]["drain_id"] for p in got}), 1)
        pods = {}
        for p in got:
            self.assertGreaterEqual(p["drain"]["pods"], self.PODS)  # and another container of this machine
            for uid, pod in p["drain"]["by_pod"].items():
                if uid not in truth:
                    continue  # another container on this machine
                self.assertNotIn(uid, pods, "a pod on two pages")
                pods[uid] = [c["verdict"] for c in pod["containers"]]
                self.assertTrue(pod["name"].startswith("web-"), pod)
        self.assertEqual(set(pods), set(truth))
        for uid, verdicts in pods.items():
            self.assertEqual(verdicts, [truth[uid]], uid)
