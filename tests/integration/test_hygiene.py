"""Data hygiene: a secret planted where secrets live (the service-account token, a container's command
line and environment, a pod spec's env, a header the API server echoes) appears in no record and no log
line, even at --log-level debug."""
import os
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakeapi"))
import containers  # noqa: E402
from agent import Agent, require_real_kernel  # noqa: E402
from kubeapi import KubeAPI  # noqa: E402

SECRET_ARG = "nt-planted-argv-4f1d9c"
SECRET_ENV = "nt-planted-env-8b2e7a"
SECRET_SPEC = "nt-planted-podspec-3c6f0e"


class PlantedSecrets(unittest.TestCase):
    def setUp(self):
        require_real_kernel(self.skipTest)
        containers.kubelet_roots()
        self.rootfs = containers.Rootfs()
        self.dir = tempfile.mkdtemp(prefix="nodetrail-hygiene-")
        self.api = KubeAPI(self.dir, bookmark_interval=0.5)
        self.api.upsert("nodes", {"metadata": {"name": "hnode"}, "spec": {}, "status": {}})
        with open(self.api.token_file) as f:
            self.token = f.read().strip()
        self.cs = []

    def tearDown(self):
        for c in self.cs:
            c.remove()
        self.api.close()
        self.rootfs.remove()
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_no_secret_in_records_or_logs(self):
        self.assertGreater(len(self.token), 16)
        agent = Agent("--api", "on", "--api-server", self.api.url, "--token-file", self.api.token_file,
                      "--ca-file", self.api.ca_file, "--imds", "off", "--join-window", "500",
                      node="hnode", env={"NODETRAIL_PLANTED": SECRET_ENV}).start()
        c = containers.Container(self.rootfs, ["sh", "-c", f"A={SECRET_ARG}; while true; do sleep 0.2; done"])
        self.cs.append(c)
        self.api.upsert("pods", {"metadata": {"name": "app-1", "namespace": "shop", "uid": c.pod_uid},
                                 "spec": {"nodeName": "hnode", "containers": [
                                     {"name": "app", "env": [{"name": "DB_PASSWORD", "value": SECRET_SPEC}],
                                      "args": [SECRET_SPEC]}]},
                                 "status": {"phase": "Running", "containerStatuses": [
                                     {"name": "app", "containerID": "containerd://" + c.id, "state": {"running": {}}}]}})
        c.start()
        # an exec into it with the secret in its arguments and environment
        c.exec(["sh", "-c", f"TOKEN={SECRET_ENV} sh -c 'echo {SECRET_ARG} >/dev/null'"])
        agent.wait_for(lambda r: r["type"] == "container.exec" and r["container"]["id"] == c.id, what="container.exec")
        c.kill("KILL")
        agent.wait_for(lambda r: r["type"] == "container.exited" and r["container"]["id"] == c.id,
                       what="container.exited")
        rc, _ = agent.stop()
        self.assertEqual(rc, 0)
        text = "\n".join(agent.lines()) + agent.log()
        self.assertIn("container.exec", text)  # the facts are there ...
        for secret in (self.token, SECRET_ARG, SECRET_ENV, SECRET_SPEC):
            self.assertNotIn(secret, text)  # ... the secrets are not
        self.assertNotIn("Authorization", agent.log())


class ExecArgsOptIn(unittest.TestCase):
    """--exec-args on: the arguments of an exec into a container are in its record, secrets redacted
    by name (NAME=VALUE, --NAME VALUE) and by the operator's pattern."""

    def setUp(self):
        require_real_kernel(self.skipTest)
        containers.kubelet_roots()
        self.rootfs = containers.Rootfs()
        self.c = None

    def tearDown(self):
        if self.c:
            self.c.remove()
        self.rootfs.remove()

    def test_args_redacted(self):
        agent = Agent("--exec-args", "on", "--exec-args-redact", "^pin-[0-9]+$").start()
        self.c = containers.Container(self.rootfs, ["sh", "-c", "while true; do sleep 0.2; done"]).start()
        time.sleep(0.3)
        self.c.exec(["/bin/sh", "-c", "true", "--password", SECRET_ARG, f"API_TOKEN={SECRET_ENV}", "pin-4412",
                     "--verbose"])
        r = agent.wait_for(lambda r: r["type"] == "container.exec" and r["container"]["id"] == self.c.id,
                           what="container.exec")
        self.assertEqual(r["kernel"]["args"], ["/bin/sh", "-c", "true", "--password", "<redacted>",
                                               "API_TOKEN=<redacted>", "<redacted>", "--verbose"])
        rc, _ = agent.stop()
        self.assertEqual(rc, 0)
        text = "\n".join(agent.lines()) + agent.log()
        for secret in (SECRET_ARG, SECRET_ENV, "pin-4412"):
            self.assertNotIn(secret, text)


if __name__ == "__main__":
    unittest.main()
