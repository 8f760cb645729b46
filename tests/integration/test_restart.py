"""An agent killed with SIGKILL and started again: seq continues, nothing is written twice."""
import signal
import unittest

import containers
from agent import Agent, require_real_kernel


class Restart(unittest.TestCase):
    def setUp(self):
        require_real_kernel(self.skipTest)
        containers.kubelet_roots()
        self.rootfs = containers.Rootfs()
        self.cs = []

    def tearDown(self):
        for c in self.cs:
            c.remove()
        self.rootfs.remove()

    def run_to_exit(self, agent, code):
        c = containers.Container(self.rootfs, ["sh", "-c", f"exit {code}"]).start()
        self.cs.append(c)
        self.assertTrue(c.wait())
        return agent.wait_for(lambda r: r["type"] == "container.exited" and r["container"]["id"] == c.id,
                              what="container.exited")

    def test_kill_9_then_restart(self):
        first = Agent().start()
        self.run_to_exit(first, 11)
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait()
        first.stderr.close()
        # the second one as if seccomp refused io_uring: same file, plain write(2)
        second = Agent(tmp=first.tmp, env={"NODETRAIL_DISABLE_IO_URING": "1"}).start()
        self.run_to_exit(second, 12)
        rc, _ = second.stop()
        self.assertEqual(rc, 0)
        recs = second.records()
        self.assertEqual([r["seq"] for r in recs], list(range(1, len(recs) + 1)))
        self.assertEqual(len({r["record_id"] for r in recs}), len(recs))
        self.assertEqual([r["kernel"]["exit_code"] for r in recs if r["type"] == "container.exited"], [11, 12])
        starts = [r for r in recs if r["type"] == "agent.status" and r["agent"]["state"] == "started"]
        self.assertEqual(len(starts), 2)
        self.assertEqual([s["agent"]["io"] for s in starts], ["io_uring", "write"])
        self.assertEqual(len(second.files()), 1)  # the same file, appended to


if __name__ == "__main__":
    unittest.main()
