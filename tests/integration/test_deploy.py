"""What the DaemonSet promises, checked on the rendered manifests, and its Linux capabilities proven
on the real kernel: the agent works with exactly those, and fails clearly without each one."""
import fnmatch
import json
import os
import re
import subprocess
import unittest

import yaml

import containers
from agent import Agent, require_real_kernel

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def render():
    out = subprocess.run(["kubectl", "kustomize", os.path.join(ROOT, "daemonset")], capture_output=True, text=True,
                         check=True).stdout
    return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(out) if d}


def daemonset_caps():
    ds = render()[("DaemonSet", "nodetrail")]
    sc = ds["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    return sc["capabilities"]["add"]


class Manifests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.objs = render()
        cls.ds = cls.objs[("DaemonSet", "nodetrail")]
        cls.pod = cls.ds["spec"]["template"]["spec"]
        cls.ctr = cls.pod["containers"][0]

    def test_rbac_read_only(self):
        sa = [{"kind": "ServiceAccount", "name": "nodetrail", "namespace": "nodetrail"}]
        role = self.objs[("ClusterRole", "nodetrail")]
        self.assertEqual(role["rules"], [{"apiGroups": [""], "resources": ["pods", "nodes"],
                                          "verbs": ["get", "list", "watch"]},
                                         # a troubled pod's events, listed on demand: no watch, no get
                                         {"apiGroups": [""], "resources": ["events"], "verbs": ["list"]}])
        binding = self.objs[("ClusterRoleBinding", "nodetrail")]
        self.assertEqual(binding["roleRef"]["name"], "nodetrail")
        self.assertEqual(binding["subjects"], sa)
        # the node's events: read in `default` only, where the kubelet, Karpenter and NTH write them
        events = self.objs[("Role", "nodetrail-node-events")]
        self.assertEqual(events["metadata"]["namespace"], "default")
        self.assertEqual(events["rules"], [{"apiGroups": [""], "resources": ["events"],
                                            "verbs": ["get", "list", "watch"]}])
        rb = self.objs[("RoleBinding", "nodetrail-node-events")]
        self.assertEqual((rb["metadata"]["namespace"], rb["roleRef"]["kind"], rb["roleRef"]["name"]),
                         ("default", "Role", "nodetrail-node-events"))
        self.assertEqual(rb["subjects"], sa)
        # nothing else binds the agent anywhere
        self.assertEqual({k for k in self.objs if k[0] in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")},
                         {("ClusterRole", "nodetrail"), ("ClusterRoleBinding", "nodetrail"),
                          ("Role", "nodetrail-node-events"), ("RoleBinding", "nodetrail-node-events")})
        self.assertIn(("ServiceAccount", "nodetrail"), self.objs)
        self.assertEqual(self.ds["metadata"]["namespace"], "nodetrail")
        self.assertEqual(self.pod["serviceAccountName"], "nodetrail")

    def test_host_network_and_dns(self):
        self.assertTrue(self.pod["hostNetwork"])
        self.assertEqual(self.pod["dnsPolicy"], "ClusterFirstWithHostNet")
        self.assertTrue(self.pod["hostPID"])

    def test_stays_on_every_node(self):
        # a toleration with operator Exists and no key or effect tolerates every taint, NoExecute included
        self.assertIn({"operator": "Exists"}, self.pod["tolerations"])
        self.assertEqual(self.pod["priorityClassName"], "system-node-critical")
        terms = self.pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        exprs = terms["nodeSelectorTerms"][0]["matchExpressions"]
        self.assertIn({"key": "eks.amazonaws.com/compute-type", "operator": "NotIn", "values": ["fargate"]}, exprs)

    def test_least_privilege(self):
        sc = self.ctr["securityContext"]
        self.assertFalse(sc.get("privileged", False))
        self.assertFalse(sc["allowPrivilegeEscalation"])
        self.assertTrue(sc["readOnlyRootFilesystem"])
        self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
        self.assertEqual(sorted(sc["capabilities"]["add"]), ["BPF", "PERFMON"])

    def test_mounts(self):
        vols = {v["name"]: v["hostPath"]["path"] for v in self.pod["volumes"]}
        mounts = {m["name"]: m for m in self.ctr["volumeMounts"]}
        self.assertEqual(vols["containers-log"], "/var/log/containers")
        self.assertEqual(mounts["containers-log"]["mountPath"], "/var/log/containers")
        self.assertFalse(mounts["containers-log"].get("readOnly", False))
        self.assertEqual(vols["state"], "/var/lib/nodetrail")
        self.assertEqual(vols["cgroup"], "/sys/fs/cgroup")
        self.assertTrue(mounts["cgroup"]["readOnly"])
        self.assertEqual(vols["btf"], "/sys/kernel/btf")
        self.assertTrue(mounts["btf"]["readOnly"])
        env = {e["name"]: e for e in self.ctr["env"]}
        self.assertEqual(env["NODETRAIL_CGROUP_ROOT"]["value"], mounts["cgroup"]["mountPath"])

    def test_downward_api_and_cluster_name(self):
        env = {e["name"]: e for e in self.ctr["env"]}
        for name, path in (("NODE_NAME", "spec.nodeName"), ("POD_NAME", "metadata.name"),
                           ("POD_NAMESPACE", "metadata.namespace"), ("POD_UID", "metadata.uid")):
            self.assertEqual(env[name]["valueFrom"]["fieldRef"]["fieldPath"], path)
        ref = env["CLUSTER_NAME"]["valueFrom"]["configMapKeyRef"]
        cms = [k for k in self.objs if k[0] == "ConfigMap" and k[1] == ref["name"]]
        self.assertEqual(len(cms), 1, "CLUSTER_NAME names the generated ConfigMap")
        self.assertIn(ref["key"], self.objs[cms[0]]["data"])
        # Container Insights drops files of pods named like its own agents
        for prefix in ("fluent-bit", "cloudwatch-agent", "aws-node", "kube-proxy", "fluentd"):
            self.assertFalse(self.ds["metadata"]["name"].startswith(prefix))

    def test_resources_probes_rollout(self):
        res = self.ctr["resources"]
        self.assertIn("memory", res["requests"])
        self.assertIn("cpu", res["requests"])
        self.assertIn("memory", res["limits"])
        env = {e["name"]: e for e in self.ctr["env"]}
        addr = env["NODETRAIL_METRICS_ADDR"]["value"]
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            get = self.ctr[probe]["httpGet"]
            self.assertEqual((get["path"], f"{get['host']}:{get['port']}"), (path, addr))
        self.assertEqual(self.ds["spec"]["updateStrategy"]["type"], "RollingUpdate")
        self.assertGreaterEqual(self.pod["terminationGracePeriodSeconds"], 10)


class CloudWatch(unittest.TestCase):
    """The dashboard's queries use fields the records have, docs/cloudwatch.md repeats them, and the
    Fluent Bit snippet picks up the file the agent writes when it runs as the DaemonSet's pod."""

    @classmethod
    def setUpClass(cls):
        with open(os.path.join(ROOT, "daemonset", "cloudwatch", "dashboard.json")) as f:
            cls.dashboard = json.load(f)
        with open(os.path.join(ROOT, "docs", "record-examples.md")) as f:
            cls.examples = [json.loads(b) for b in re.findall(r"```json\n(.*?)\n```", f.read(), re.S)]
        cls.queries = [w["properties"]["query"] for w in cls.dashboard["widgets"] if w["type"] == "log"]

    def has_path(self, path):
        for rec in self.examples:
            v = rec
            for part in path.split("."):
                v = v.get(part) if isinstance(v, dict) else None
            if v is not None:
                return True
        return False

    def test_query_fields_exist(self):
        self.assertGreaterEqual(len(self.queries), 4)
        for q in self.queries:
            for path in set(re.findall(r"log_processed\.([A-Za-z_.]+[A-Za-z_])", q)):
                self.assertTrue(self.has_path(path), f"{path} (in: {q}) is in no record of docs/record-examples.md")

    def test_docs_repeat_the_dashboard(self):
        with open(os.path.join(ROOT, "docs", "cloudwatch.md")) as f:
            doc = f.read()
        for q in self.queries:
            self.assertIn(q.replace(" | ", "\n| "), doc)
        names = [w["properties"]["metrics"][0][1] for w in self.dashboard["widgets"] if w["type"] == "metric"]
        self.assertEqual(sorted(names), ["Disruptions", "Evictions", "Interruptions", "NonGracefulTerminations",
                                        "OOMKills"])

    def test_fluent_bit_snippet_matches_the_file(self):
        with open(os.path.join(ROOT, "daemonset", "cloudwatch", "fluent-bit-nodetrail.conf")) as f:
            conf = f.read()
        path = re.search(r"^\s*Path\s+(\S+)", conf, re.M).group(1)
        self.assertIn("log_format          json/emf", conf)
        agent = Agent("--bpf", "off", "--api", "off", "--imds", "off", env={
            "POD_NAME": "nodetrail-x7k2p", "POD_NAMESPACE": "nodetrail", "CONTAINER_NAME": "nodetrail",
            "POD_UID": "3f0c2a9e-5b7d-4e21-9a1c-2b3d4e5f6a7b"}).start()
        try:
            name = os.path.basename(agent.files()[0])
        finally:
            agent.stop()
        self.assertTrue(fnmatch.fnmatch(name, os.path.basename(path)), (name, path))
        # the stock Container Insights input excludes its own agents' files, not this one
        for prefix in ("fluent-bit", "cloudwatch-agent", "aws-node", "kube-proxy", "fluentd"):
            self.assertFalse(name.startswith(prefix))
        self.assertRegex(name, r"^[a-z0-9-]+_[^_]+_.+-[a-f0-9]{64}\.log$")


class Capabilities(unittest.TestCase):
    """Run the agent as the DaemonSet does: uid 0 with every capability but the manifest's dropped."""

    def setUp(self):
        require_real_kernel(self.skipTest)
        containers.kubelet_roots()
        self.rootfs = containers.Rootfs()
        self.cs = []
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
        out = subprocess.run(["capsh", "--print"], capture_output=True, text=True, check=True).stdout
        self.bounding = [c for line in out.splitlines() if line.startswith("Bounding set =")
                         for c in line.split("=", 1)[1].strip().split(",") if c]
        self.assertGreater(len(self.bounding), 0, last)

    def tearDown(self):
        for c in self.cs:
            c.remove()
        self.rootfs.remove()

    def agent_with(self, keep):
        drop = ",".join(c for c in self.bounding if c not in keep)
        agent = Agent()
        agent.args = ["capsh", f"--drop={drop}", "--", "-c", 'exec "$@"', "nodetrail"] + agent.args
        return agent

    def test_manifest_caps_suffice(self):
        keep = ["cap_" + c.lower() for c in daemonset_caps()]
        agent = self.agent_with(keep).start()
        c = containers.Container(self.rootfs, ["sh", "-c", "exit 5"]).start()
        self.cs.append(c)
        self.assertTrue(c.wait())
        r = agent.wait_for(lambda r: r["type"] == "container.exited" and r["container"]["id"] == c.id,
                           what="container.exited with only " + ",".join(keep))
        self.assertEqual(r["kernel"]["exit_code"], 5)
        rc, _ = agent.stop()
        self.assertEqual(rc, 0)

    def test_each_cap_needed(self):
        keep = ["cap_" + c.lower() for c in daemonset_caps()]
        for missing in keep:
            with self.subTest(without=missing):
                agent = self.agent_with([c for c in keep if c != missing])
                with open(agent.stderr_path, "w") as err:
                    p = subprocess.run(agent.args, stdout=subprocess.DEVNULL, stderr=err, env=agent.env, timeout=20)
                log = agent.log()
                self.assertEqual(p.returncode, 1, log)
                self.assertIn("permission denied loading BPF programs", log)
                self.assertEqual(len([l for l in log.splitlines() if l.split(" ")[1:2] == ["error"]]), 1, log)


if __name__ == "__main__":
    unittest.main()
