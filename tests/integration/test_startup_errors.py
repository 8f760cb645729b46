"""Startup failures: each gives one clear error line naming the problem and the fix.

Runs the real agent binary (NODETRAIL_AGENT) with a broken environment and checks its
exit status, its log and, for --bpf auto, the agent.status record it writes instead.
"""
import glob
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

AGENT = os.environ.get("NODETRAIL_AGENT", "build/nodetrail")
REQUIRE = os.environ.get("REQUIRE_BPF") == "1"


def error_lines(stderr):
    return [l for l in stderr.splitlines() if " error " in l]


class StartupErrors(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            if REQUIRE:
                self.fail("REQUIRE_BPF=1 but not root")
            self.skipTest("needs root")
        self.tmp = tempfile.mkdtemp(prefix="nodetrail-err-")
        self.out = os.path.join(self.tmp, "out")
        self.state = os.path.join(self.tmp, "state")
        os.makedirs(self.out)

    def tearDown(self):
        subprocess.run(["umount", "-q", self.out], stderr=subprocess.DEVNULL)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_agent(self, *args, env=None, prefix=()):
        cmd = list(prefix) + [AGENT, "--output-dir", self.out, "--state-dir", self.state,
                              "--node-name", "err-node"] + list(args)
        e = dict(os.environ)
        e.update(env or {})
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20, env=e)

    def assert_one_error(self, proc, *needles):
        self.assertEqual(proc.returncode, 1, proc.stderr)
        errs = error_lines(proc.stderr)
        self.assertEqual(len(errs), 1, proc.stderr)
        for n in needles:
            self.assertIn(n, errs[0])

    def test_read_only_output_dir(self):
        subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", self.out], check=True)
        p = self.run_agent("--bpf", "off")
        self.assert_one_error(p, "cannot write records to " + self.out, "Read-only file system",
                              "--output-dir")

    def test_missing_output_dir(self):
        p = self.run_agent("--bpf", "off", "--output-dir", os.path.join(self.tmp, "nope"))
        self.assert_one_error(p, "cannot write records", "No such file or directory", "--output-dir")

    def test_missing_cgroup_root(self):
        p = self.run_agent("--bpf", "off", "--cgroup-root", "/nonexistent/cgroup")
        self.assert_one_error(p, "cgroup root /nonexistent/cgroup", "--cgroup-root")

    def test_no_btf_bpf_on(self):
        p = self.run_agent("--bpf", "on", env={"NODETRAIL_SYS_BTF": "/nonexistent/vmlinux"})
        self.assert_one_error(p, "kernel has no BTF", "CONFIG_DEBUG_INFO_BTF")

    def test_no_cap_bpf_on(self):
        # root without any capability: what a pod without CAP_BPF gets
        p = self.run_agent("--bpf", "on", prefix=("setpriv", "--inh-caps=-all", "--bounding-set=-all", "--"))
        self.assert_one_error(p, "permission denied loading BPF programs", "CAP_BPF")

    def test_no_cap_bpf_auto_keeps_running(self):
        cmd = ["setpriv", "--inh-caps=-all", "--bounding-set=-all", "--", AGENT, "--bpf", "auto",
               "--output-dir", self.out, "--state-dir", self.state, "--node-name", "err-node"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            status = None
            deadline = time.time() + 10
            while time.time() < deadline and status is None:
                for f in glob.glob(os.path.join(self.out, "*.log")):
                    for line in open(f):
                        rec = json.loads(line.split(" ", 3)[3])
                        if rec["type"] == "agent.status":
                            status = rec
                time.sleep(0.1)
            self.assertIsNotNone(status, "no agent.status record")
            self.assertEqual(status["agent"]["bpf"], "off")
            self.assertIn("permission denied", status["agent"]["bpf_reason"])
            self.assertEqual(proc.poll(), None, "agent exited in --bpf auto")
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=5)
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn("running without eBPF", err)


if __name__ == "__main__":
    unittest.main()
