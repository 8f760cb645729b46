"""Record files of earlier pods: a DaemonSet rollout leaves each node the files of the pod it
replaced, which nothing else deletes and Fluent Bit tails for ever. The agent deletes those of its
own DaemonSet once untouched for --prune-after seconds (an hour), at start and hourly, says so in an
agent.files_pruned record, and never touches its own file, a younger one, another workload's, or a
symlink (the kubelet's log links in /var/log/containers look the same). No eBPF, API or IMDS needed."""
import os
import shutil
import time
import unittest

from agent import Agent

HEX = {k: k * 64 for k in "abcdef"}
# the harness runs the agent as pod nodetrail-itest, namespace kube-system, container agent
OLD = f"nodetrail-old01_kube-system_agent-{HEX['a']}.log"
OLD_ROTATED = OLD + ".20261201-101010"
YOUNG = f"nodetrail-young_kube-system_agent-{HEX['b']}.log"
LINK = f"nodetrail-link1_kube-system_agent-{HEX['c']}.log"
OTHER = f"fluent-bit-x1y2z_kube-system_agent-{HEX['d']}.log"
OTHER_NS = f"nodetrail-old02_default_agent-{HEX['e']}.log"
TWO_HOURS = 2 * 3600


def line(seq):
    """A CRI line as an earlier pod wrote it (the harness reads every *.log as records)."""
    return ('2026-12-01T10:10:10.000000000Z stdout F {"schema":"nodetrail/v1","record_id":"%016x","seq":%d,'
            '"type":"agent.status","event_time":"2026-12-01T10:10:10.000000000Z","agent":{"state":"stopping"},'
            '"sources":[],"summary":"an earlier pod"}\n' % (seq, seq))


class PruneEarlierPods(unittest.TestCase):
    def setUp(self):
        self.agents = []

    def tearDown(self):
        for a in self.agents:
            if a.proc and a.proc.poll() is None:
                a.stop()
            shutil.rmtree(a.tmp, ignore_errors=True)

    def plant(self, agent):
        """Files of earlier pods and their look-alikes in the output dir, before the agent starts."""
        now = time.time()
        sizes = {}
        for name, age, lines in ((OLD, TWO_HOURS, 3), (OLD_ROTATED, TWO_HOURS + 60, 5), (YOUNG, 600, 2),
                                 (OTHER, TWO_HOURS, 1), (OTHER_NS, TWO_HOURS, 1)):
            path = os.path.join(agent.out, name)
            with open(path, "w") as f:
                f.write("".join(line(i) for i in range(1, lines + 1)))
            os.utime(path, (now - age, now - age))
            sizes[name] = os.path.getsize(path)
        # a kubelet-style log link, old, to an old regular file elsewhere: the link is not ours
        target = os.path.join(agent.tmp, "pods-container-0.log")
        with open(target, "w") as f:
            f.write(line(1))
        os.utime(target, (now - TWO_HOURS, now - TWO_HOURS))
        os.symlink(target, os.path.join(agent.out, LINK))
        os.utime(os.path.join(agent.out, LINK), (now - TWO_HOURS, now - TWO_HOURS), follow_symlinks=False)
        return sizes, target

    def test_old_file_of_an_earlier_pod_deleted_and_said(self):
        agent = Agent("--bpf", "off", "--api", "off", "--imds", "off")
        self.agents.append(agent)
        sizes, target = self.plant(agent)
        agent.start()
        rec = agent.wait_for(lambda r: r["type"] == "agent.files_pruned", timeout=10, what="agent.files_pruned")
        d = rec["agent"]
        self.assertEqual(sorted(f["name"] for f in d["files"]), sorted([OLD, OLD_ROTATED]))
        self.assertEqual({f["name"]: f["bytes"] for f in d["files"]},
                         {OLD: sizes[OLD], OLD_ROTATED: sizes[OLD_ROTATED]})
        self.assertEqual(d["files_pruned"], 2)
        self.assertEqual(d["bytes_freed"], sizes[OLD] + sizes[OLD_ROTATED])
        self.assertEqual(d["older_than_s"], 3600)
        self.assertEqual(d["errors"], 0)
        self.assertEqual(d["dir"], agent.out)
        self.assertIn("removed 2 record files of earlier pods of kube-system/agent", rec["summary"])
        self.assertEqual(rec["sources"], [])

        left = set(os.listdir(agent.out))
        self.assertNotIn(OLD, left)
        self.assertNotIn(OLD_ROTATED, left)
        self.assertIn(YOUNG, left)
        self.assertIn(OTHER, left)
        self.assertIn(OTHER_NS, left)
        self.assertTrue(os.path.islink(os.path.join(agent.out, LINK)))
        self.assertTrue(os.path.exists(target))
        live = [n for n in left if n.startswith("nodetrail-itest_kube-system_agent-")]
        self.assertEqual(len(live), 1)
        # the live file holds the record, after this run's started status
        with open(os.path.join(agent.out, live[0])) as f:
            text = f.read()
        self.assertIn('"type":"agent.files_pruned"', text)
        self.assertLess(text.index('"state":"started"'), text.index('"type":"agent.files_pruned"'))

        rc, _ = agent.stop()
        self.assertEqual(rc, 0)
        stop = [r for r in agent.records() if r["type"] == "agent.status" and r["agent"]["state"] == "stopping"
                and r["agent"].get("pid") == agent.proc.pid][-1]
        self.assertEqual(stop["agent"]["prune"], {"after_s": 3600, "passes": 1, "files_pruned": 2,
                                                  "bytes_freed": sizes[OLD] + sizes[OLD_ROTATED], "errors": 0})
        self.assertIn("deleted 2 record files of earlier pods", agent.log())

    def test_prune_after_zero_deletes_nothing(self):
        agent = Agent("--bpf", "off", "--api", "off", "--imds", "off", "--prune-after", "0")
        self.agents.append(agent)
        self.plant(agent)
        agent.start()
        time.sleep(1)
        rc, _ = agent.stop()
        self.assertEqual(rc, 0)
        self.assertTrue(os.path.exists(os.path.join(agent.out, OLD)))
        self.assertTrue(os.path.exists(os.path.join(agent.out, OLD_ROTATED)))
        self.assertFalse([r for r in agent.records() if r["type"] == "agent.files_pruned"])
        stop = [r for r in agent.records() if r["type"] == "agent.status" and r["agent"]["state"] == "stopping"
                and r["agent"].get("pid") == agent.proc.pid][-1]
        self.assertEqual(stop["agent"]["prune"]["after_s"], 0)
        self.assertEqual(stop["agent"]["prune"]["passes"], 0)


if __name__ == "__main__":
    unittest.main()
