"""Disk faults the agent must ride out without losing what it accepted: the output directory deleted
and recreated under it, and a read-only state directory (the checkpoint cannot be written)."""
import os
import shutil
import subprocess
import time
import unittest

import containers
from agent import Agent, require_real_kernel


class DiskFaults(unittest.TestCase):
    def setUp(self):
        require_real_kernel(self.skipTest)
        containers.kubelet_roots()
        self.rootfs = containers.Rootfs()
        self.cs = []
        self.mounted = None

    def tearDown(self):
        for c in self.cs:
            c.remove()
        self.rootfs.remove()
        if self.mounted:
            subprocess.run(["umount", self.mounted], check=False)

    def exit_with(self, code):
        c = containers.Container(self.rootfs, ["sh", "-c", f"exit {code}"]).start()
        self.cs.append(c)
        self.assertTrue(c.wait())
        return c

    def test_output_dir_deleted_and_recreated(self):
        agent = Agent().start()
        shutil.rmtree(agent.out)
        c = self.exit_with(3)  # while the directory is gone: the record waits in the queue
        time.sleep(1.5)
        os.makedirs(agent.out)
        r = agent.wait_for(lambda r: r["type"] == "container.exited" and r["container"]["id"] == c.id,
                           timeout=10, what="the exit, written once the directory is back")
        self.assertEqual(r["kernel"]["exit_code"], 3)
        c2 = self.exit_with(4)
        agent.wait_for(lambda r: r["type"] == "container.exited" and r["container"]["id"] == c2.id, what="next exit")
        rc, _ = agent.stop()
        self.assertEqual(rc, 0)
        stop = [r for r in agent.records() if r["type"] == "agent.status" and r["agent"]["state"] == "stopping"][-1]
        self.assertEqual(stop["agent"]["records_dropped"], 0)
        self.assertIn("failed to write records", agent.log())

    def test_read_only_state_dir(self):
        agent = Agent("--checkpoint-interval", "1")
        os.makedirs(agent.state, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", agent.state], check=True)
        self.mounted = agent.state
        agent.start()
        c = self.exit_with(5)
        agent.wait_for(lambda r: r["type"] == "container.exited" and r["container"]["id"] == c.id, what="exit")
        time.sleep(2.5)  # a few checkpoint attempts
        rc, _ = agent.stop()
        self.assertEqual(rc, 0)
        stop = [r for r in agent.records() if r["type"] == "agent.status" and r["agent"]["state"] == "stopping"][-1]
        ck = stop["agent"]["checkpoint"]
        self.assertGreaterEqual(ck["failures"], 2)
        self.assertEqual(ck["last_error"], "Read-only file system")
        self.assertEqual(ck["saves"], 0)
        # said once, not once a second
        self.assertEqual(agent.log().count("failed to write the checkpoint"), 1, agent.log()[-2000:])


if __name__ == "__main__":
    unittest.main()
