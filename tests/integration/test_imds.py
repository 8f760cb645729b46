"""The agent against a stand-in IMDSv2: identity in every record, a spot notice becomes a
node.interruption within 5 s, expired tokens are renewed, and off EC2 IMDS turns itself off."""
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakeapi"))
from agent import Agent  # noqa: E402
from imds import IMDS  # noqa: E402


class Imds(unittest.TestCase):
    def setUp(self):
        self.imds = IMDS()
        self.agent = Agent("--bpf", "off", "--api", "off", "--imds", "on", "--imds-endpoint", self.imds.url,
                           "--imds-poll", "1", "--status-interval", "1").start()

    def tearDown(self):
        rc, _ = self.agent.stop()
        self.imds.close()
        self.assertEqual(rc, 0)

    def test_identity_and_spot_notice(self):
        st = self.agent.wait_for(lambda r: r["type"] == "agent.status" and r["agent"]["imds"]["identity"],
                                 what="IMDS identity")
        self.assertEqual(st["InstanceId"], "i-0abc123def4567890")
        self.assertEqual(st["InstanceType"], "m5.large")
        self.assertEqual(st["AvailabilityZone"], "us-east-1a")
        self.assertEqual(st["CapacityType"], "SPOT")
        # tokens expire (or IMDS restarts): the agent takes a new one and goes on
        self.imds.expire_tokens()
        time.sleep(1.5)
        self.imds.set_spot_action("terminate")
        t0 = time.time()
        r = self.agent.wait_for(lambda r: r["type"] == "node.interruption", timeout=5, what="node.interruption")
        self.assertLess(time.time() - t0, 5.0)
        self.assertEqual(r["imds"]["source"], "imds")
        self.assertEqual(r["imds"]["transition"], "opened")
        self.assertEqual(r["imds"]["kind"], "spot_interruption")
        self.assertEqual(r["imds"]["claims"][0]["detail"], "terminate")
        self.assertEqual(r["sources"], ["imds"])
        self.assertEqual(r["InstanceId"], "i-0abc123def4567890")
        self.assertEqual(r["imds"]["deadline"][:16], self.imds.spot_action["time"][:16])
        self.assertGreater(self.imds.counters["unauthorized"], 0)
        self.assertGreaterEqual(self.imds.counters["tokens"], 2)
        # one interruption, however many polls see the notice
        time.sleep(2)
        self.assertEqual(len([x for x in self.agent.records() if x["type"] == "node.interruption"]), 1)


class ImdsFaults(unittest.TestCase):
    """500s, answers slower than the agent waits, and a notice that comes, goes and comes back: the
    agent counts the errors, keeps polling, and reports one interruption."""

    def setUp(self):
        self.imds = IMDS()
        self.agent = Agent("--bpf", "off", "--api", "off", "--imds", "on", "--imds-endpoint", self.imds.url,
                           "--imds-poll", "1", "--status-interval", "1").start()
        self.agent.wait_for(lambda r: r["type"] == "agent.status" and r["agent"]["imds"]["identity"],
                            what="IMDS identity")

    def tearDown(self):
        rc, _ = self.agent.stop()
        self.imds.close()
        self.assertEqual(rc, 0)

    def test_errors_timeouts_and_flapping(self):
        self.imds.fail_next(3, 500)
        self.imds.delay = 2.5  # over the agent's 2 s request timeout
        time.sleep(4)
        self.imds.delay = 0
        st = self.agent.wait_for(lambda r: r["type"] == "agent.status" and r["agent"]["imds"]["errors"] >= 2,
                                 what="IMDS errors counted")
        self.assertEqual(st["agent"]["imds"]["mode"], "on")  # --imds on: errors never turn it off
        first = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60))
        self.imds.set_spot_action("terminate", first)
        self.agent.wait_for(lambda r: r["type"] == "node.interruption", timeout=6, what="node.interruption")
        self.imds.spot_action = None  # withdrawn: 404 again
        self.agent.wait_for(lambda r: r["type"] == "agent.status" and not r["agent"]["imds"].get("spot_action"),
                            timeout=6, what="the notice withdrawn")
        self.imds.set_spot_action("terminate", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 90)))
        time.sleep(2.5)
        # a 404 between two answers is a flap, not a withdrawal: the same interruption, its deadline moved
        ints = [r for r in self.agent.records() if r["type"] == "node.interruption"]
        self.assertEqual([r["imds"]["transition"] for r in ints], ["opened", "updated"], [r["summary"] for r in ints])
        self.assertEqual(ints[0]["imds"]["deadline"][:19], first[:19])
        self.assertEqual(ints[1]["imds"]["changed"], ["deadline"])


class ImdsOffEc2(unittest.TestCase):
    def test_auto_turns_off_fast_and_asks_again(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # nothing listens there: like a machine that is not on EC2
        agent = Agent("--bpf", "off", "--api", "off", "--imds", "auto", "--imds-endpoint",
                      f"http://127.0.0.1:{port}", "--imds-recheck", "1").start()
        imds = None
        try:
            r = agent.wait_for(lambda r: r["type"] == "agent.status" and r["agent"]["imds"]["mode"] == "off",
                               timeout=3, what="IMDS off status")
            self.assertIn("not on EC2", r["agent"]["imds"]["reason"])
            # the instance's metadata options change (IMDS enabled, the hop limit raised): it is asked
            # again and found, with the instance's identity
            imds = IMDS(port=port)
            r = agent.wait_for(lambda r: r["type"] == "agent.status" and r["agent"]["imds"]["mode"] == "on"
                               and r["agent"]["imds"]["identity"], timeout=10, what="IMDS found again")
            self.assertEqual(r["InstanceId"], "i-0abc123def4567890")
        finally:
            rc, _ = agent.stop()
            if imds:
                imds.close()
        self.assertEqual(rc, 0)


class ImdsTransient(unittest.TestCase):
    """--imds auto on EC2 whose IMDS hiccups at the start (5xx, 429 on the token and the identity): a
    spot node that hiccupped once still reports its interruption."""

    def test_errors_at_start_are_retried(self):
        imds = IMDS()
        imds.fail_put = [500, 429]
        imds.fail_next(2, 503)
        agent = Agent("--bpf", "off", "--api", "off", "--imds", "auto", "--imds-endpoint", imds.url,
                      "--imds-poll", "1", "--status-interval", "1").start()
        try:
            agent.wait_for(lambda r: r["type"] == "agent.status" and r["agent"]["imds"]["identity"], timeout=20,
                           what="IMDS identity after the errors")
            imds.set_spot_action("terminate")
            agent.wait_for(lambda r: r["type"] == "node.interruption", timeout=10, what="node.interruption")
            modes = {r["agent"]["imds"]["mode"] for r in agent.records() if r["type"] == "agent.status"}
            self.assertEqual(modes, {"on"})
            self.assertGreaterEqual(max(r["agent"]["imds"]["errors"] for r in agent.records()
                                        if r["type"] == "agent.status"), 4)
        finally:
            rc, _ = agent.stop()
            imds.close()
        self.assertEqual(rc, 0)


if __name__ == "__main__":
    unittest.main()
