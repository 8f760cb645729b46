"""A ring buffer too small for a burst: the losses are counted and reported, never silent."""
import unittest

import containers
from agent import Agent, require_real_kernel


class RingBufferOverflow(unittest.TestCase):
    def setUp(self):
        require_real_kernel(self.skipTest)
        containers.kubelet_roots()
        self.rootfs = containers.Rootfs()
        self.agent = Agent("--ringbuf-size", "4").start()
        self.c = None

    def tearDown(self):
        if self.agent.proc.poll() is None:
            self.agent.proc.kill()
        if self.c:
            self.c.remove()
        self.rootfs.remove()

    def test_burst_drops_are_counted(self):
        # 20,000 SIGTERMs a shell sends itself (kill is a builtin: no exec) into a
        # 4 KiB ring buffer: about 40 events fit. The pause before the exit lets the
        # agent drain the buffer, so the exit itself is not among the losses.
        script = ("trap : TERM; i=0; while [ $i -lt 20000 ]; do kill -TERM $$; i=$((i+1)); done; "
                  "sleep 0.5; exit 5")
        self.c = containers.Container(self.rootfs, ["sh", "-c", script]).start()
        self.assertTrue(self.c.wait(60))
        r = self.agent.wait_for(lambda r: r["type"] == "container.exited"
                                and r["container"]["id"] == self.c.id, what="container.exited")
        self.assertEqual(r["kernel"]["exit_code"], 5)
        rc, _ = self.agent.stop()
        self.assertEqual(rc, 0)
        status = self.agent.records()[-1]
        self.assertEqual(status["agent"]["state"], "stopping")
        drops = status["agent"]["ringbuf_drops"]
        self.assertGreater(drops["signal"], 0, status)
        # what was not dropped is bounded per container, and the overflow of that list is counted too
        self.assertLessEqual(len(r["kernel"]["signals"]), 8)
        self.assertGreater(status["agent"]["signals_dropped"] + drops["signal"], 19000)
        self.assertIn("ring-buffer drops", status["summary"])


if __name__ == "__main__":
    unittest.main()
