"""A secret planted in a command line is nowhere in what the agent writes. With --exec-args on (the
only mode that keeps arguments) and the agent logging at debug level, a person's execs into a running
container carry a secret in each form the redaction knows (a NAME=VALUE assignment anywhere, a --flag
and its value, a URL's userinfo, an Authorization header, the secret short flags of mysql, sshpass,
redis-cli and curl): each exec is recorded, with its arguments redacted, and no secret appears in the
record file, the agent's log or /metrics, nor in the checkpoint it leaves."""
import glob
import os
import re
import shutil
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakeapi"))
import containers  # noqa: E402
from agent import Agent, require_real_kernel  # noqa: E402
from kubeapi import KubeAPI  # noqa: E402

NODE = "ip-10-0-1-23.ec2.internal"
MAIN = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"]


def skip_class(why):
    raise unittest.SkipTest(why)


def planted():
    """(argv, secret) pairs: every form, each with its own secret."""
    forms = []
    for i, make in enumerate([
        lambda s: ["/bin/sh", "-c", "true", f"PASSWORD={s}"],
        lambda s: ["/bin/sh", "-c", "true", f"--set=db.password={s}"],
        lambda s: ["/bin/sh", "-c", "true", f"a=1,token={s}"],
        lambda s: ["/bin/sh", "-c", "true", "--token", s],
        lambda s: ["/bin/sh", "-c", "true", f"--client-secret={s}"],
        lambda s: ["/bin/sh", "-c", "true", f"https://admin:{s}@db.internal:5432/app"],
        lambda s: ["/bin/curl", "-H", f"Authorization: Bearer {s}", "https://api.internal/"],
        lambda s: ["/bin/curl", "-u", f"admin:{s}", "https://api.internal/"],
        lambda s: ["/bin/mysql", "-uroot", f"-p{s}", "app"],
        lambda s: ["/bin/sshpass", "-p", s, "ssh", "host"],
        lambda s: ["/bin/redis-cli", "-a", s, "ping"],
        lambda s: ["/bin/sh", "-c", "true", "--pwd", s],
        lambda s: ["/bin/sh", "-c", "true", f"--jwt={s}"],
    ]):
        secret = f"Pl4nted{i:02d}Zq9"
        forms.append((make(secret), secret))
    return forms


class PlantedSecrets(unittest.TestCase):
    def setUp(self):
        require_real_kernel(self.skipTest)
        containers.kubelet_roots()
        self.rootfs = containers.Rootfs()
        for name in ("curl", "mysql", "sshpass", "redis-cli"):  # busybox answers "applet not found": exec'd all the same
            os.symlink("busybox", os.path.join(self.rootfs.dir, "bin", name))
        self.dir = tempfile.mkdtemp(prefix="nodetrail-secrets-")
        self.api = KubeAPI(self.dir, bookmark_interval=0.5)
        self.api.upsert("nodes", {"metadata": {"name": NODE}, "spec": {}, "status": {}})
        self.agent = Agent("--api", "on", "--api-server", self.api.url, "--token-file", self.api.token_file,
                           "--ca-file", self.api.ca_file, "--imds", "off", "--exec-args", "on",
                           "--metrics-addr", "127.0.0.1:0", node=NODE).start()
        self.port = int(re.search(r"\(port (\d+)\)", self.agent.log()).group(1))
        self.c = None

    def tearDown(self):
        if self.agent.proc.poll() is None:
            self.agent.stop()
        if self.c:
            self.c.remove()
        self.api.close()
        self.rootfs.remove()
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_no_planted_secret_anywhere(self):
        self.c = containers.Container(self.rootfs, MAIN)
        self.api.upsert("pods", {
            "metadata": {"name": "web", "namespace": "shop", "uid": self.c.pod_uid},
            "spec": {"nodeName": NODE, "containers": [{"name": "app", "image": "shop/app:1"}]},
            "status": {"phase": "Running", "containerStatuses": [{
                "name": "app", "containerID": "containerd://" + self.c.id, "restartCount": 0, "state": {"running": {}}}]}})
        self.c.start()
        time.sleep(0.5)
        forms = planted()
        for argv, _ in forms:
            self.c.exec(argv)
        self.agent.wait_for(lambda r: len(self.agent.for_container(self.c.id, "container.exec")) >= len(forms),
                            timeout=15, what=f"{len(forms)} container.exec records")
        execs = self.agent.for_container(self.c.id, "container.exec")
        self.assertEqual(len(execs), len(forms))
        for r in execs:
            self.assertIn("<redacted>", " ".join(r["kernel"]["args"]), r["kernel"]["args"])
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as resp:
            metrics = resp.read().decode()
        rc, _ = self.agent.stop()
        self.assertEqual(rc, 0)
        places = {"records": "\n".join(self.agent.lines()), "log": self.agent.log(), "metrics": metrics}
        for path in glob.glob(os.path.join(self.agent.state, "*")):
            with open(path, errors="replace") as f:
                places[f"state {os.path.basename(path)}"] = f.read()
        for argv, secret in forms:
            for where, text in places.items():
                self.assertNotIn(secret, text, f"{argv} leaked into {where}")


if __name__ == "__main__":
    unittest.main()
