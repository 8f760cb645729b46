"""The stand-in API server speaks the real protocol: kubectl lists and watches through it."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakeapi"))
from kubeapi import KubeAPI  # noqa: E402


class KubectlAgainstFakeApi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("kubectl"):
            if os.environ.get("REQUIRE_BPF") == "1":
                raise AssertionError("kubectl missing: tests/deps.sh installs it")
            raise unittest.SkipTest("kubectl missing")
        cls.dir = tempfile.mkdtemp(prefix="nodetrail-kubectl-")
        cls.api = KubeAPI(cls.dir, bookmark_interval=0.5)
        cls.kubeconfig = os.path.join(cls.dir, "kubeconfig")
        with open(cls.kubeconfig, "w") as f:
            json.dump({"apiVersion": "v1", "kind": "Config", "current-context": "fake",
                       "clusters": [{"name": "fake", "cluster": {"server": cls.api.url,
                                                                 "certificate-authority": cls.api.ca_file}}],
                       "users": [{"name": "u", "user": {"tokenFile": cls.api.token_file}}],
                       "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "u"}}]}, f)
        cls.api.upsert("pods", {"metadata": {"name": "a", "namespace": "shop"}, "spec": {"nodeName": "n1"}})
        cls.api.upsert("pods", {"metadata": {"name": "b", "namespace": "shop"}, "spec": {"nodeName": "n2"}})

    @classmethod
    def tearDownClass(cls):
        cls.api.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def kubectl(self, *args, timeout=20):
        return subprocess.run(["kubectl", "--kubeconfig", self.kubeconfig, *args], capture_output=True,
                              text=True, timeout=timeout)

    def test_list_with_field_selector(self):
        p = self.kubectl("get", "--raw", "/api/v1/pods?fieldSelector=spec.nodeName%3Dn1")
        self.assertEqual(p.returncode, 0, p.stderr)
        items = json.loads(p.stdout)["items"]
        self.assertEqual([i["metadata"]["name"] for i in items], ["a"])
        p = self.kubectl("get", "pods", "-A", "--field-selector", "spec.nodeName=n2", "-o", "json")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual([i["metadata"]["name"] for i in json.loads(p.stdout)["items"]], ["b"])

    def test_watch_sees_an_update(self):
        proc = subprocess.Popen(["kubectl", "--kubeconfig", self.kubeconfig, "get", "--raw",
                                 "/api/v1/pods?watch=1&fieldSelector=spec.nodeName%3Dn1&resourceVersion="
                                 + str(self.api.rv)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(1.0)
            self.api.upsert("pods", {"metadata": {"name": "c", "namespace": "shop"}, "spec": {"nodeName": "n1"}})
            line = proc.stdout.readline()
            ev = json.loads(line)
            self.assertEqual(ev["type"], "ADDED")
            self.assertEqual(ev["object"]["metadata"]["name"], "c")
        finally:
            proc.kill()
            proc.communicate()

    def test_bad_token_is_refused(self):
        bad = os.path.join(self.dir, "kubeconfig-bad")
        with open(self.kubeconfig) as f:
            cfg = json.load(f)
        cfg["users"] = [{"name": "u", "user": {"token": "not-the-token"}}]
        with open(bad, "w") as f:
            json.dump(cfg, f)
        p = subprocess.run(["kubectl", "--kubeconfig", bad, "get", "--raw", "/api/v1/nodes"], capture_output=True,
                           text=True, timeout=20)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("Unauthorized", p.stderr)


if __name__ == "__main__":
    unittest.main()
