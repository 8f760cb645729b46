"""What the DaemonSet promises, checked on the rendered manifests, and its Linux capabilities proven
on the real kernel: the agent works with exactly those, and fails clearly without each one."""
import copy
import fnmatch
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest
import urllib.request

import yaml

import containers
from agent import AGENT, Agent, StdoutAgent, require_real_kernel

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# the <container> part of the records file's name (the DaemonSet's CONTAINER_NAME): not the agent's own
# container name, so that a glob tells the records file from the kubelet's log of the agent's stderr
RECORDS_CONTAINER_NAME = "nodetrail-records"


# /metrics and the probes: a port that no EKS add-on or common node agent listens on in the host's network
# namespace, where the DaemonSet's pod lives (README, Metrics)
METRICS_PORT = 17390
HOST_NETWORK_PORTS = {
    80: "eks-pod-identity-agent (169.254.170.23 and fd00:ec2::23)",
    2000: "CloudWatch agent, X-Ray",
    2020: "Fluent Bit's HTTP server (Container Insights)",
    2703: "eks-pod-identity-agent, probes",
    2705: "eks-pod-identity-agent, metrics",
    4315: "CloudWatch agent, Application Signals OTLP/gRPC",
    4316: "CloudWatch agent, Application Signals OTLP/HTTP",
    8002: "eks-node-monitoring-agent",
    8080: "aws-node-termination-handler probes, eks-node-monitoring-agent metrics",
    8162: "VPC CNI network policy agent, metrics",
    8163: "VPC CNI network policy agent, health",
    9092: "aws-node-termination-handler, metrics",
    9100: "Prometheus node-exporter",
    9400: "DCGM exporter (CloudWatch observability add-on)",
    9487: "node-exporter of the CloudWatch observability add-on",
    9808: "EBS CSI node, liveness probe",
    9809: "EFS CSI node, liveness probe",
    9810: "FSx for Lustre CSI node, liveness probe",
    10248: "kubelet, healthz",
    10249: "kube-proxy, metrics",
    10250: "kubelet",
    10256: "kube-proxy, healthz",
    25888: "CloudWatch agent, EMF",
    50051: "VPC CNI ipamd, gRPC",
    61678: "VPC CNI aws-node, metrics",
    61679: "VPC CNI aws-node, introspection",
    61680: "VPC CNI aws-node",
}


def load(out):
    return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(out) if d}


def render():
    out = subprocess.run(["kubectl", "kustomize", os.path.join(ROOT, "daemonset")], capture_output=True, text=True,
                         check=True).stdout
    return load(out)


def render_with(*components):
    """The manifests as an operator's overlay renders them: daemonset/ plus components under it."""
    tmp = tempfile.mkdtemp(prefix="nodetrail-overlay-")
    try:
        # kustomize takes only relative paths, and no overlay inside the directory it builds on
        def rel(path):
            return os.path.relpath(os.path.join(ROOT, "daemonset", path), tmp)

        with open(os.path.join(tmp, "kustomization.yaml"), "w") as f:
            yaml.safe_dump({"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                            "resources": [rel(".")], "components": [rel(c) for c in components]}, f)
        out = subprocess.run(["kubectl", "kustomize", tmp], capture_output=True, text=True, check=True).stdout
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return load(out)


def kubelet_env(env, fields):
    """A container's environment as the kubelet builds it: $(VAR) expands only from the variables above it."""
    out = {}
    for e in env:
        if "value" in e:
            out[e["name"]] = re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: out.get(m.group(1), m.group(0)),
                                    e["value"])
        elif "fieldRef" in e.get("valueFrom", {}):
            out[e["name"]] = fields.get(e["valueFrom"]["fieldRef"]["fieldPath"], "")
    return out


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
        # list and watch only: the agent never reads one object by name
        self.assertEqual(role["rules"], [{"apiGroups": [""], "resources": ["pods", "nodes"],
                                          "verbs": ["list", "watch"]},
                                         # a troubled pod's events, listed on demand: no watch, no get
                                         {"apiGroups": [""], "resources": ["events"], "verbs": ["list"]}])
        binding = self.objs[("ClusterRoleBinding", "nodetrail")]
        self.assertEqual(binding["roleRef"]["name"], "nodetrail")
        self.assertEqual(binding["subjects"], sa)
        # the node's events: read in `default` only, where the kubelet, Karpenter and NTH write them
        events = self.objs[("Role", "nodetrail-node-events")]
        self.assertEqual(events["metadata"]["namespace"], "default")
        self.assertEqual(events["rules"], [{"apiGroups": [""], "resources": ["events"],
                                            "verbs": ["list", "watch"]}])
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
        # only the architectures the image is built for (tests/image.sh's PLATFORMS), and the agent
        # of each really is a program of that machine: x86-64 here, aarch64 cross-built (make arm64)
        platforms = re.search(r'^PLATFORMS="([^"]*)"', read("tests", "image.sh"), re.M).group(1).split()
        archs = [p.split("/")[1] for p in platforms]
        self.assertEqual(sorted(archs), ["amd64", "arm64"])
        self.assertIn({"key": "kubernetes.io/arch", "operator": "In", "values": archs}, exprs)
        agents = {"amd64": (os.environ.get("NODETRAIL_AGENT", "build/nodetrail"), 62),  # EM_X86_64
                  "arm64": (os.path.join(ROOT, "build-arm64", "nodetrail"), 183)}  # EM_AARCH64
        for arch in archs:
            path, machine = agents[arch]
            if arch == "arm64" and not os.path.exists(path):
                self.skipTest("no arm64 agent: make arm64 (tests/run-all.sh builds it first)")
            with open(path, "rb") as f:
                elf = f.read(20)
            self.assertEqual((elf[:4], int.from_bytes(elf[18:20], "little")), (b"\x7fELF", machine), path)

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


class MetricsEndpoint(unittest.TestCase):
    """/metrics in the manifests: loopback only by default, on a port no EKS add-on uses on the host network;
    daemonset/metrics adds the node's address from the downward API and scrape annotations, daemonset/podmonitor
    the same plus a PodMonitor; the probes stay on loopback in all three."""

    @classmethod
    def setUpClass(cls):
        cls.default = render()
        cls.metrics = render_with("metrics")
        cls.podmonitor = render_with("podmonitor")

    @staticmethod
    def container(objs):
        return objs[("DaemonSet", "nodetrail")]["spec"]["template"]["spec"]["containers"][0]

    @staticmethod
    def env(ctr):
        return {e["name"]: e for e in ctr["env"]}

    def test_default_loopback_only(self):
        ctr = self.container(self.default)
        env = self.env(ctr)
        self.assertEqual(env["NODETRAIL_METRICS_ADDR"]["value"], f"127.0.0.1:{METRICS_PORT}")
        self.assertNotIn("HOST_IP", env)
        self.assertNotIn("ports", ctr)  # no hostPort claimed either
        self.assertNotIn("annotations", self.default[("DaemonSet", "nodetrail")]["spec"]["template"]["metadata"])
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            self.assertEqual(ctr[probe]["httpGet"], {"host": "127.0.0.1", "port": METRICS_PORT, "path": path})
        self.assertFalse([k for k in self.default if k[0] == "PodMonitor"])

    def test_port_used_by_no_add_on(self):
        self.assertNotIn(METRICS_PORT, HOST_NETWORK_PORTS)
        # not a privileged port, below the NodePort range (30000-32767) and the ephemeral one (32768-60999 on
        # AL2023 and Bottlerocket: no outgoing connection or containerd's stream server takes it first), and
        # outside 9100-9999, the Prometheus exporters' registry (node-exporter and friends)
        self.assertTrue(1024 < METRICS_PORT < 30000)
        self.assertFalse(9100 <= METRICS_PORT <= 9999)
        # every port any of the renderings names is that one
        for objs in (self.default, self.metrics, self.podmonitor):
            text = json.dumps(objs[("DaemonSet", "nodetrail")])
            ports = {int(p) for p in re.findall(r'"(?:port|containerPort|hostPort|prometheus\.io/port)": "?(\d+)', text)}
            ports |= {int(p) for p in re.findall(r":(\d+)[,\"]", text)}
            self.assertEqual(ports, {METRICS_PORT})

    def test_metrics_component(self):
        ds = self.metrics[("DaemonSet", "nodetrail")]
        ctr = self.container(self.metrics)
        names = [e["name"] for e in ctr["env"]]
        env = self.env(ctr)
        self.assertEqual(env["HOST_IP"]["valueFrom"], {"fieldRef": {"fieldPath": "status.hostIP"}})
        # Kubernetes expands $(HOST_IP) only when HOST_IP is defined above
        self.assertLess(names.index("HOST_IP"), names.index("NODETRAIL_METRICS_ADDR"))
        self.assertEqual(env["NODETRAIL_METRICS_ADDR"]["value"].split(","),
                         [f"127.0.0.1:{METRICS_PORT}", f"$(HOST_IP):{METRICS_PORT}"])
        self.assertEqual(ds["spec"]["template"]["metadata"]["annotations"],
                         {"prometheus.io/scrape": "true", "prometheus.io/port": str(METRICS_PORT),
                          "prometheus.io/path": "/metrics"})
        self.assertEqual(ctr["ports"], [{"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}])
        for probe in ("livenessProbe", "readinessProbe"):
            self.assertEqual(ctr[probe], self.container(self.default)[probe])
        # and nothing else changes
        undone = copy.deepcopy(ds)
        del undone["spec"]["template"]["metadata"]["annotations"]
        c = undone["spec"]["template"]["spec"]["containers"][0]
        del c["ports"]
        c["env"] = [e for e in c["env"] if e["name"] != "HOST_IP"]
        next(e for e in c["env"] if e["name"] == "NODETRAIL_METRICS_ADDR")["value"] = f"127.0.0.1:{METRICS_PORT}"
        base = self.default[("DaemonSet", "nodetrail")]
        base_env = [e["name"] for e in base["spec"]["template"]["spec"]["containers"][0]["env"]]
        c["env"].sort(key=lambda e: base_env.index(e["name"]))
        self.assertEqual(undone, base)
        self.assertEqual({k: v for k, v in self.metrics.items() if k[0] != "DaemonSet"},
                         {k: v for k, v in self.default.items() if k[0] != "DaemonSet"})

    def test_podmonitor_component(self):
        self.assertEqual(self.podmonitor[("DaemonSet", "nodetrail")], self.metrics[("DaemonSet", "nodetrail")])
        self.assertEqual(set(self.podmonitor) - set(self.metrics), {("PodMonitor", "nodetrail")})
        pm = self.podmonitor[("PodMonitor", "nodetrail")]
        ds = self.podmonitor[("DaemonSet", "nodetrail")]
        pod = ds["spec"]["template"]
        self.assertEqual((pm["apiVersion"], pm["kind"]), ("monitoring.coreos.com/v1", "PodMonitor"))
        self.assertEqual(pm["metadata"]["namespace"], ds["metadata"]["namespace"])
        self.assertEqual(pm["spec"]["namespaceSelector"], {"matchNames": [ds["metadata"]["namespace"]]})
        # it selects the agent's pods, by labels they have
        labels = pm["spec"]["selector"]["matchLabels"]
        self.assertTrue(labels)
        self.assertEqual(labels, {k: pod["metadata"]["labels"][k] for k in labels})
        self.assertEqual(set(pm["spec"]), {"selector", "namespaceSelector", "podMetricsEndpoints"})
        [ep] = pm["spec"]["podMetricsEndpoints"]
        self.assertLessEqual(set(ep), {"port", "path", "interval", "scheme", "relabelings"})
        # its port is the container port the node's address listens on, as the annotations say
        [cport] = [p for p in pod["spec"]["containers"][0]["ports"] if p["name"] == ep["port"]]
        self.assertEqual(cport["containerPort"], METRICS_PORT)
        self.assertEqual(str(cport["containerPort"]), pod["metadata"]["annotations"]["prometheus.io/port"])
        self.assertEqual(ep["path"], pod["metadata"]["annotations"]["prometheus.io/path"])
        self.assertEqual(ep.get("scheme", "http"), "http")
        self.assertRegex(ep["interval"], r"^\d+s$")
        for r in ep.get("relabelings", []):
            self.assertLessEqual(set(r), {"sourceLabels", "targetLabel", "action", "regex", "replacement"})
            self.assertTrue(all(l.startswith("__meta_kubernetes_pod_") for l in r.get("sourceLabels", [])))

    def test_component_serves_where_it_says(self):
        # the agent with the component's environment as the kubelet builds it (127.0.0.2 as the node's
        # address): the probes' URLs and the scrape URL answer
        for host in ("127.0.0.1", "127.0.0.2"):
            with socket.socket() as s:
                if s.connect_ex((host, METRICS_PORT)) == 0:
                    self.skipTest(f"{host}:{METRICS_PORT} is taken on this machine")
        ctr = self.container(self.metrics)
        env = kubelet_env(ctr["env"], {"status.hostIP": "127.0.0.2"})
        agent = Agent("--bpf", "off", "--api", "off", "--imds", "off",
                      env={"NODETRAIL_METRICS_ADDR": env["NODETRAIL_METRICS_ADDR"]}).start()
        try:
            self.assertIn(f"/metrics on 127.0.0.1:{METRICS_PORT},127.0.0.2:{METRICS_PORT} (port {METRICS_PORT})",
                          agent.log())
            for probe in ("livenessProbe", "readinessProbe"):
                get = ctr[probe]["httpGet"]
                with urllib.request.urlopen(f"http://{get['host']}:{get['port']}{get['path']}", timeout=5) as r:
                    self.assertEqual(r.status, 200, probe)
            ann = self.metrics[("DaemonSet", "nodetrail")]["spec"]["template"]["metadata"]["annotations"]
            url = f"http://127.0.0.2:{ann['prometheus.io/port']}{ann['prometheus.io/path']}"
            with urllib.request.urlopen(url, timeout=5) as r:
                self.assertIn("nodetrail_metrics_refused_total", r.read().decode())
        finally:
            agent.stop()


class StdoutComponent(unittest.TestCase):
    """daemonset/stdout: records on the agent's stdout (for collectors that read only /var/log/pods), the
    runtime's folder of this container mounted read-only where the agent reads back, /var/log/containers
    not mounted at all; everything else as the default."""

    @classmethod
    def setUpClass(cls):
        cls.default = render()
        cls.stdout = render_with("stdout")
        cls.pod = cls.stdout[("DaemonSet", "nodetrail")]["spec"]["template"]["spec"]
        cls.ctr = cls.pod["containers"][0]

    def agent_default(self, option):
        out = subprocess.run([AGENT, "--help"], capture_output=True, text=True, check=True).stdout
        m = re.search(rf"--{option} .*\n\s+env \S+, default (\S+)", out)
        self.assertIsNotNone(m, option)
        return m.group(1)

    def test_mounts(self):
        vols = {v["name"]: v["hostPath"]["path"] for v in self.pod["volumes"]}
        mounts = {m["mountPath"]: m for m in self.ctr["volumeMounts"]}
        self.assertNotIn("/var/log/containers", vols.values())
        self.assertNotIn("/var/log/containers", mounts)
        where = self.agent_default("pod-logs-dir")
        self.assertEqual(vols[mounts[where]["name"]], "/var/log/pods")
        self.assertTrue(mounts[where]["readOnly"])

    def test_env_names_the_runtime_folder(self):
        env = kubelet_env(self.ctr["env"], {})
        self.assertEqual(env["NODETRAIL_OUTPUT"], "stdout")
        # /var/log/pods/<ns>_<pod>_<uid>/<container>/: the real container name
        self.assertEqual(env["CONTAINER_NAME"], self.ctr["name"])

    def test_nothing_else_changes(self):
        ds, base = copy.deepcopy(self.stdout), copy.deepcopy(self.default)
        for objs in (ds, base):
            spec = objs[("DaemonSet", "nodetrail")]["spec"]["template"]["spec"]
            c = spec["containers"][0]
            c["env"] = [e for e in c["env"] if e["name"] not in ("NODETRAIL_OUTPUT", "CONTAINER_NAME")]
            c["volumeMounts"] = [m for m in c["volumeMounts"] if m["name"] not in ("containers-log", "pods-log")]
            spec["volumes"] = [v for v in spec["volumes"] if v["name"] not in ("containers-log", "pods-log")]
        self.assertEqual(ds, base)

    def test_component_env_runs_the_agent_that_way(self):
        env = kubelet_env(self.ctr["env"], {})
        agent = StdoutAgent("--bpf", "off", "--api", "off", "--imds", "off",
                            env={k: env[k] for k in ("NODETRAIL_OUTPUT", "CONTAINER_NAME")})
        i = agent.args.index("--output")
        del agent.args[i:i + 2]  # from the component's environment only
        agent.start()
        rc, _ = agent.stop()
        self.assertEqual(rc, 0)
        self.assertIn("records go to stdout", agent.log())
        self.assertEqual(os.listdir(agent.out), [])
        self.assertEqual(agent.bad_stdout, [])
        self.assertEqual([r["agent"]["state"] for r in agent.records()], ["started", "stopping"])


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
        # CONTAINER_NAME as the DaemonSet sets it (FluentBitRouting checks the rendered DaemonSet)
        agent = Agent("--bpf", "off", "--api", "off", "--imds", "off", env={
            "POD_NAME": "nodetrail-x7k2p", "POD_NAMESPACE": "nodetrail", "CONTAINER_NAME": RECORDS_CONTAINER_NAME,
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


# ---- CloudWatch: Fluent Bit routing, the add-on's values, console queries, EMF metrics, alarms ----

CONTAINERS_DIR = "/var/log/containers/"
ADDON_DEFAULT_FILES = ("application-log.conf", "dataplane-log.conf", "host-log.conf")


def read(*parts):
    with open(os.path.join(ROOT, *parts)) as f:
        return f.read()


def fluent_bit_sections(text):
    """Fluent Bit's classic format: [SECTION] then `Key Value` lines; # comments. Returns [(name, {key: value})],
    keys lowercased (Fluent Bit's keys are case-insensitive)."""
    sections = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"\[([A-Z_]+)\]", line)
        if m:
            sections.append((m.group(1), {}))
            continue
        if line.startswith("@"):
            sections.append((line, {}))
            continue
        key, _, value = line.partition(" ")
        assert sections, f"a key before any section: {line!r}"
        assert key.lower() not in sections[-1][1], f"key given twice: {line!r}"
        sections[-1][1][key.lower()] = value.strip()
    return sections


def records_file_name(env):
    """The records file the real agent writes with this downward-API environment."""
    agent = Agent("--bpf", "off", "--api", "off", "--imds", "off", env=env).start()
    try:
        return os.path.basename(agent.files()[0])
    finally:
        agent.stop()


def c_string_define(path, name):
    m = re.search(rf'#define\s+{name}\s+"([^"]*)"', read(*path.split("/")))
    assert m, f"{name} not in {path}"
    return m.group(1)


def emf_in_source():
    """What --emf can emit, read from the encoder: namespace, metric names, dimension sets."""
    enc = read("agent", "out", "encode.c")
    names = re.findall(r'\(struct emf_metric\)\{\s*"(\w+)"', enc)
    sets = [tuple(a for a in re.findall(r'"(\w+)"', args))
            for args in re.findall(r"\bdimension_set\(([^()]*)\)", enc) if '"' in args]
    return c_string_define("include/nodetrail/base/record.h", "RECORD_EMF_NAMESPACE"), names, sets


class FluentBitRouting(unittest.TestCase):
    """The EMF routing reads the records file and nothing else, the same pipeline whether it is the
    self-managed snippet or the add-on's configuration values, and the values only add a file."""

    @classmethod
    def setUpClass(cls):
        cls.conf = read("daemonset", "cloudwatch", "fluent-bit-nodetrail.conf")
        cls.values = json.loads(read("daemonset", "cloudwatch", "addon-configuration-values.json"))
        cls.ds = render()[("DaemonSet", "nodetrail")]

    def glob(self):
        inputs = [s for n, s in fluent_bit_sections(self.conf) if n == "INPUT"]
        self.assertEqual(len(inputs), 1)
        return inputs[0]["path"]

    def test_glob_matches_the_records_file_not_the_agents_own_log(self):
        ctr = self.ds["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in ctr["env"]}
        pod = self.ds["metadata"]["name"] + "-x7k2p"
        ns = self.ds["metadata"]["namespace"]
        self.assertNotEqual(env["CONTAINER_NAME"], ctr["name"],
                            "the records file and the kubelet's log of the agent's container would have the same "
                            "<pod>_<ns>_<container>-<64 hex>.log shape: no glob can tell them apart")
        self.assertEqual(env["CONTAINER_NAME"], RECORDS_CONTAINER_NAME,
                         "daemonset.yaml must set CONTAINER_NAME to what the Fluent Bit glob, the docs and the "
                         "add-on values expect")
        records = records_file_name({"POD_NAME": pod, "POD_NAMESPACE": ns, "CONTAINER_NAME": env["CONTAINER_NAME"],
                                     "POD_UID": "3f0c2a9e-5b7d-4e21-9a1c-2b3d4e5f6a7b"})
        glob = self.glob()
        self.assertTrue(fnmatch.fnmatchcase(CONTAINERS_DIR + records, glob), (records, glob))
        # the kubelet's symlink for the agent's own container (its stderr): the container id's 64 hex
        for cid in ("0" * 64, "f" * 64, "ab12" * 16, "deadbeef" * 8):
            own = f"{pod}_{ns}_{ctr['name']}-{cid}.log"
            self.assertFalse(fnmatch.fnmatchcase(CONTAINERS_DIR + own, glob), (own, glob))
        # other pods' logs, and rotated records files, are not read either
        for other in (f"web-1_{ns}_{env['CONTAINER_NAME']}-{'a' * 64}.log", f"{pod}_shop_{env['CONTAINER_NAME']}-{'a' * 64}.log",
                      records + ".20261202-101500"):
            self.assertFalse(fnmatch.fnmatchcase(CONTAINERS_DIR + other, glob), other)

    def test_every_copy_of_the_glob_is_the_same(self):
        glob = self.glob()
        self.assertTrue(glob.startswith(CONTAINERS_DIR))
        pattern = r"/var/log/containers/nodetrail-\*_[^\s,`\"']*\.log"
        for where, text in (("fluent-bit-nodetrail.conf", self.conf), ("docs/cloudwatch.md", read("docs", "cloudwatch.md")),
                            ("addon-configuration-values.json", json.dumps(self.values))):
            found = set(re.findall(pattern, text))
            self.assertEqual(found, {glob}, where)

    def test_addon_values_add_the_same_pipeline_and_replace_nothing(self):
        self.assertEqual(list(self.values), ["containerLogs"])
        config = self.values["containerLogs"]["fluentBit"]["config"]
        # `service` and `customParsers` are strings and a default extraFiles entry is replaced whole:
        # setting any of them would drop the add-on's own configuration
        self.assertEqual(list(config), ["extraFiles"])
        self.assertEqual(list(config["extraFiles"]), ["nodetrail.conf"])
        self.assertFalse(set(config["extraFiles"]) & set(ADDON_DEFAULT_FILES))
        text = config["extraFiles"]["nodetrail.conf"]
        self.assertNotIn("@INCLUDE", text)  # the chart adds `@INCLUDE nodetrail.conf` itself
        self.assertNotIn("{{", text)        # the chart renders extraFiles as templates
        self.assertEqual(fluent_bit_sections(text), fluent_bit_sections(self.conf))

    def test_pipeline_makes_emf_events(self):
        secs = fluent_bit_sections(self.conf)
        self.assertEqual([n for n, _ in secs], ["INPUT", "FILTER", "OUTPUT"])
        inp, flt, out = (s for _, s in secs)
        self.assertEqual((inp["name"], inp["multiline.parser"]), ("tail", "cri"))
        tag = inp["tag"]
        self.assertTrue(tag.endswith(".*"))
        # the kubernetes filter finds the file name after its prefix (tail's tag: the path, / as .)
        self.assertEqual(flt["name"], "kubernetes")
        self.assertEqual(flt["match"], tag)
        self.assertEqual(flt["kube_tag_prefix"], tag[:-1] + CONTAINERS_DIR.strip("/").replace("/", ".") + ".")
        # Merge_Log without Merge_Log_Key: the record's keys (_aws, the metric and dimension values) at the
        # top level, where EMF wants them
        self.assertEqual(flt["merge_log"], "On")
        self.assertNotIn("merge_log_key", flt)
        self.assertEqual(flt["keep_log"], "Off")
        self.assertEqual(out["name"], "cloudwatch_logs")
        self.assertEqual(out["match"], tag)
        self.assertEqual(out["log_format"], "json/emf")
        self.assertEqual(out["log_group_name"], "/aws/containerinsights/${CLUSTER_NAME}/nodetrail")


class ConsoleQueries(unittest.TestCase):
    """docs/cloudwatch.md gives each dashboard query as the console takes it: no SOURCE line (the log
    group is chosen in the console); the dashboard keeps SOURCE; the queries pick the records by schema."""

    @classmethod
    def setUpClass(cls):
        dashboard = json.loads(read("daemonset", "cloudwatch", "dashboard.json"))
        cls.queries = [w["properties"]["query"] for w in dashboard["widgets"] if w["type"] == "log"]
        doc = read("docs", "cloudwatch.md")
        section = doc[doc.index("## Logs Insights queries"):]
        cls.console = section[:section.index("<details>")]
        cls.details = section[section.index("<details>"):]

    def test_console_forms(self):
        blocks = re.findall(r"```\n(.*?)\n```", self.console, re.S)
        self.assertEqual(len(blocks), len(self.queries))
        for q in self.queries:
            source, rest = q.split(" | ", 1)
            self.assertRegex(source, r"^SOURCE '/aws/containerinsights/[^']+/application'$")
            self.assertIn(rest.replace(" | ", "\n| "), blocks)
        for b in blocks:
            self.assertNotIn("SOURCE", b)
        for q in self.queries:  # the dashboard's form is kept, below the console's
            self.assertIn(q.replace(" | ", "\n| "), self.details)

    def test_queries_select_records_by_schema(self):
        schema = c_string_define("include/nodetrail/base/record.h", "RECORD_SCHEMA")
        for q in self.queries:
            self.assertIn(f"log_processed.schema = '{schema}'", q)
            # the container name is CONTAINER_NAME's, not a fact to select on
            self.assertNotIn("kubernetes.container_name", q)


class EmfOfARun(unittest.TestCase):
    """What --emf emits, from a run of the real agent (an eviction through the API and an IMDS spot
    notice, with a node group, --emf node), against what the encoder's source can emit."""

    NODE = "ip-10-0-1-23.ec2.internal"

    @classmethod
    def setUpClass(cls):
        if not shutil.which("openssl"):
            raise unittest.SkipTest("openssl CLI missing (the stand-in API server's certificates)")
        sys.path.insert(0, os.path.join(ROOT, "tests", "fakeapi"))
        from imds import IMDS
        from kubeapi import KubeAPI
        cls.dir = tempfile.mkdtemp(prefix="nodetrail-emf-")
        api = KubeAPI(cls.dir, bookmark_interval=0.5)
        imds = IMDS()
        stamp = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))  # noqa: E731
        api.upsert("nodes", {"metadata": {"name": cls.NODE, "labels": {"eks.amazonaws.com/nodegroup": "ng-spot"}},
                             "spec": {}, "status": {}})
        pod = {"metadata": {"name": "web-1", "namespace": "shop", "uid": "uid-web-1"},
               "spec": {"nodeName": cls.NODE, "containers": [{"name": "app"}]}, "status": {"phase": "Running"}}
        api.upsert("pods", pod)
        agent = Agent("--bpf", "off", "--api", "on", "--api-server", api.url, "--token-file", api.token_file,
                      "--ca-file", api.ca_file, "--imds", "on", "--imds-endpoint", imds.url, "--imds-poll", "1",
                      "--emf", "node", "--status-interval", "1", node=cls.NODE).start()
        try:
            agent.wait_for(lambda r: r["type"] == "agent.status" and r["agent"]["api"].get("synced")
                           and r["agent"]["imds"]["identity"], timeout=15, what="API synced and IMDS identity")
            pod["metadata"]["deletionTimestamp"] = stamp(time.time())
            pod["status"]["conditions"] = [{"type": "DisruptionTarget", "status": "True",
                                            "reason": "EvictionByEvictionAPI", "message": "Eviction API: evicting"}]
            api.upsert("pods", pod)
            api.delete("pods", "shop", "web-1")
            agent.wait_for(lambda r: r["type"] == "pod.terminated" and "_aws" in r, timeout=15, what="an eviction's EMF")
            imds.set_spot_action("terminate", stamp(time.time() + 300))
            agent.wait_for(lambda r: r["type"] == "node.interruption" and "_aws" in r, timeout=15,
                           what="an interruption's EMF")
            cls.records = [r for r in agent.records() if "_aws" in r]
        finally:
            agent.stop()
            api.close()
            imds.close()
            shutil.rmtree(cls.dir, ignore_errors=True)

    def test_emitted_as_the_source_says(self):
        namespace, names, sets = emf_in_source()
        self.assertEqual(sorted(names), ["Disruptions", "Evictions", "Interruptions", "NonGracefulTerminations",
                                         "OOMKills"])
        seen_names, seen_sets = set(), set()
        for r in self.records:
            self.assertIsInstance(r["_aws"]["Timestamp"], (int, float))
            for cwm in r["_aws"]["CloudWatchMetrics"]:
                self.assertEqual(cwm["Namespace"], namespace)
                for dims in cwm["Dimensions"]:
                    self.assertIn(tuple(dims), sets)
                    seen_sets.add(tuple(dims))
                    for d in dims:  # EMF: each dimension's value a string at the top level
                        self.assertIsInstance(r[d], str)
                for m in cwm["Metrics"]:
                    self.assertIn(m["Name"], names)
                    self.assertEqual(m.get("Unit"), "Count")
                    self.assertIsInstance(r[m["Name"]], (int, float))
                    seen_names.add(m["Name"])
        self.assertEqual(seen_names, {"Evictions", "Interruptions"})
        self.assertEqual(seen_sets, {("ClusterName",), ("ClusterName", "NodeGroup"),
                                     ("ClusterName", "NodeName", "InstanceId")})


# The MetricAlarm CRD of the ACK CloudWatch controller, as a minimal schema written for these tests from
# aws-controllers-k8s/cloudwatch-controller v1.8.1 (commit 39861e39b8d6883d2dc2882c37bfe0803ea7d17b),
# config/crd/bases/cloudwatch.services.k8s.aws_metricalarms.yaml: group cloudwatch.services.k8s.aws,
# version v1alpha1, namespaced; spec.name is the one required field. Only the fields alarms on a plain
# metric use are listed; anything else is refused (the API server would prune an unknown field).
ACK_GROUP_VERSION = "cloudwatch.services.k8s.aws/v1alpha1"
_STR, _INT, _NUM, _BOOL = {"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"}
_NAME_VALUE = {"type": "object", "properties": {"name": _STR, "value": _STR}}
METRIC_ALARM_SCHEMA = {
    "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"type": "string", "enum": [ACK_GROUP_VERSION]},
        "kind": {"type": "string", "enum": ["MetricAlarm"]},
        "metadata": {"type": "object", "required": ["name", "namespace"], "open": True,
                     "properties": {"name": _STR, "namespace": _STR, "labels": {"type": "object", "open": True},
                                    "annotations": {"type": "object", "open": True}}},
        "spec": {"type": "object", "required": ["name"], "properties": {
            "name": _STR, "alarmDescription": _STR, "actionsEnabled": _BOOL,
            "alarmActions": {"type": "array", "items": _STR}, "oKActions": {"type": "array", "items": _STR},
            "insufficientDataActions": {"type": "array", "items": _STR},
            "namespace": _STR, "metricName": _STR, "dimensions": {"type": "array", "items": _NAME_VALUE},
            "statistic": {"type": "string", "enum": ["SampleCount", "Average", "Sum", "Minimum", "Maximum"]},
            "extendedStatistic": _STR, "unit": _STR,
            "period": _INT, "evaluationPeriods": _INT, "datapointsToAlarm": _INT, "threshold": _NUM,
            "comparisonOperator": {"type": "string", "enum": [
                "GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold",
                "LessThanOrEqualToThreshold"]},
            "treatMissingData": {"type": "string", "enum": ["breaching", "notBreaching", "ignore", "missing"]},
            "tags": {"type": "array", "items": {"type": "object", "properties": {"key": _STR, "value": _STR}}}}},
    },
}
_PY_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "integer": int, "number": (int, float)}


def schema_errors(value, schema, where="$"):
    t = schema["type"]
    if not isinstance(value, _PY_TYPES[t]) or (t in ("integer", "number") and isinstance(value, bool)):
        return [f"{where}: {value!r} is not {t}"]
    errors = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not one of {schema['enum']}")
    if t == "object":
        props = schema.get("properties", {})
        errors += [f"{where}: {k} required" for k in schema.get("required", []) if k not in value]
        for k, v in value.items():
            if k in props:
                errors += schema_errors(v, props[k], f"{where}.{k}")
            elif not schema.get("open"):
                errors.append(f"{where}: unknown field {k}")
    if t == "array":
        for i, v in enumerate(value):
            errors += schema_errors(v, schema["items"], f"{where}[{i}]")
    return errors


class CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms (!Ref, !Sub, !If...) as their long JSON forms."""


def _cfn(tag):
    key = "Ref" if tag == "Ref" else "Condition" if tag == "Condition" else "Fn::" + tag

    def construct(loader, node):
        if isinstance(node, yaml.ScalarNode):
            v = loader.construct_scalar(node)
            if tag == "GetAtt":
                v = v.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            v = loader.construct_sequence(node, deep=True)
        else:
            v = loader.construct_mapping(node, deep=True)
        return {key: v}
    return construct


for _tag in ("Ref", "Sub", "If", "Not", "Equals", "And", "Or", "Condition", "GetAtt", "Join", "Select", "Split",
             "FindInMap", "Base64", "Cidr", "GetAZs", "ImportValue"):
    CfnLoader.add_constructor("!" + _tag, _cfn(_tag))

REQUIRED_ALARMS = {"OOMKills", "NonGracefulTerminations", "Interruptions", "Evictions"}


class Alarms(unittest.TestCase):
    """The ACK component renders valid MetricAlarms for the cluster the DaemonSet names, the
    CloudFormation snippet defines the same alarms, and both watch series that --emf emits."""

    CLUSTER = "shop-prod-eu"  # dashes: the alarm name's cluster part is replaced whole

    @classmethod
    def setUpClass(cls):
        doc = read("docs", "cloudwatch.md")
        block = re.search(r"```yaml\n( *patches:.*?)\n *```", doc, re.S).group(1)
        cls.doc_patch = yaml.safe_load(textwrap.dedent(block))["patches"]
        cls.tmp = tempfile.mkdtemp(prefix="nodetrail-alarms-")
        ov = os.path.join(cls.tmp, "overlay")
        os.makedirs(ov)
        base = os.path.relpath(os.path.join(ROOT, "daemonset"), ov)
        with open(os.path.join(ov, "kustomization.yaml"), "w") as f:
            yaml.safe_dump({"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                            "resources": [base], "components": [base + "/alarms"],
                            "configMapGenerator": [{"name": "nodetrail-config", "namespace": "nodetrail",
                                                    "behavior": "merge", "literals": [f"cluster.name={cls.CLUSTER}"]}],
                            "patches": cls.doc_patch}, f)
        out = subprocess.run(["kubectl", "kustomize", ov], capture_output=True, text=True, check=True).stdout
        cls.objs = [d for d in yaml.safe_load_all(out) if d]
        shutil.rmtree(cls.tmp, ignore_errors=True)
        cls.ack = [d for d in cls.objs if d["kind"] == "MetricAlarm"]
        with open(os.path.join(ROOT, "daemonset", "alarms", "cloudformation.yaml")) as f:
            cls.cfn = yaml.load(f, Loader=CfnLoader)  # noqa: S506 (a SafeLoader subclass)

    def test_ack_manifests_fit_the_crd(self):
        self.assertEqual(len(self.ack), 4)
        for a in self.ack:
            self.assertEqual(schema_errors(a, METRIC_ALARM_SCHEMA), [], a["metadata"]["name"])
        # the schema itself refuses what it should
        bad = json.loads(json.dumps(self.ack[0]))
        del bad["spec"]["name"]
        bad["spec"]["threshhold"] = 1
        bad["spec"]["period"] = "300"
        self.assertEqual(len(schema_errors(bad, METRIC_ALARM_SCHEMA)), 3)

    def test_ack_alarms_name_the_cluster_the_agent_writes(self):
        ds = next(d for d in self.objs if d["kind"] == "DaemonSet")
        env = {e["name"]: e for e in ds["spec"]["template"]["spec"]["containers"][0]["env"]}
        ref = env["CLUSTER_NAME"]["valueFrom"]["configMapKeyRef"]
        cm = next(d for d in self.objs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == ref["name"])
        self.assertEqual(cm["data"][ref["key"]], self.CLUSTER)
        for a in self.ack:
            spec = a["spec"]
            self.assertEqual(spec["dimensions"], [{"name": "ClusterName", "value": self.CLUSTER}])
            self.assertEqual(spec["name"], f"nodetrail-{self.CLUSTER}-{spec['metricName']}")
            self.assertNotIn("CLUSTER", json.dumps(a))
            self.assertEqual(a["metadata"]["namespace"], ds["metadata"]["namespace"])
            # the docs' patch for notifications applies
            self.assertEqual(spec["alarmActions"], ["arn:aws:sns:us-east-1:111122223333:oncall"])
        self.assertEqual(len({a["spec"]["name"] for a in self.ack}), 4)

    def cfn_alarms(self):
        res = self.cfn["Resources"]
        self.assertTrue(all(r["Type"] == "AWS::CloudWatch::Alarm" for r in res.values()))
        return {r["Properties"]["MetricName"]: r["Properties"] for r in res.values()}

    def test_cloudformation_is_well_formed(self):
        self.assertEqual(self.cfn["AWSTemplateFormatVersion"], "2010-09-09")
        params, conditions = self.cfn["Parameters"], self.cfn.get("Conditions", {})
        pseudo = {"AWS::NoValue", "AWS::Region", "AWS::AccountId", "AWS::Partition", "AWS::StackName"}

        def walk(v):
            if isinstance(v, dict):
                for k, x in v.items():
                    if k == "Ref":
                        self.assertIn(x, set(params) | pseudo | set(self.cfn["Resources"]))
                    elif k == "Fn::Sub":
                        for var in re.findall(r"\$\{([^}]+)\}", x):
                            self.assertIn(var, set(params) | pseudo)
                    elif k == "Fn::If":
                        self.assertIn(x[0], conditions)
                    walk(x)
            elif isinstance(v, list):
                for x in v:
                    walk(x)
        walk(self.cfn["Resources"])
        walk(conditions)
        for p in self.cfn_alarms().values():
            for key in ("ComparisonOperator", "EvaluationPeriods", "Threshold", "Namespace", "MetricName",
                        "Statistic", "Period"):
                self.assertIn(key, p)
            self.assertEqual(p["Dimensions"], [{"Name": "ClusterName", "Value": {"Ref": "ClusterName"}}])
            self.assertEqual(p["AlarmName"], {"Fn::Sub": "nodetrail-${ClusterName}-" + p["MetricName"]})

    def test_same_alarms_both_ways(self):
        cfn = self.cfn_alarms()
        ack = {a["spec"]["metricName"]: a["spec"] for a in self.ack}
        self.assertEqual(set(cfn), set(ack))
        pairs = (("Namespace", "namespace"), ("Statistic", "statistic"), ("Period", "period"),
                 ("EvaluationPeriods", "evaluationPeriods"), ("DatapointsToAlarm", "datapointsToAlarm"),
                 ("Threshold", "threshold"), ("ComparisonOperator", "comparisonOperator"),
                 ("TreatMissingData", "treatMissingData"), ("AlarmDescription", "alarmDescription"))
        for name in ack:
            for c, k in pairs:
                self.assertEqual(cfn[name][c], ack[name][k], (name, c))

    def test_alarms_watch_what_emf_emits(self):
        namespace, names, sets = emf_in_source()
        for source, alarms in (("ACK", {a["spec"]["metricName"]: (a["spec"]["namespace"], a["spec"]["statistic"],
                                                                  [d["name"] for d in a["spec"]["dimensions"]])
                                        for a in self.ack}),
                               ("CloudFormation", {n: (p["Namespace"], p["Statistic"], [d["Name"] for d in p["Dimensions"]])
                                                   for n, p in self.cfn_alarms().items()})):
            self.assertEqual(set(alarms), REQUIRED_ALARMS, source)
            for name, (ns, stat, dims) in alarms.items():
                self.assertEqual(ns, namespace, source)
                self.assertIn(name, names, source)
                self.assertEqual(stat, "Sum", source)  # EMF counts: a period's total
                # a metric's identity is its full dimension set: one the agent emits, and the one always there
                self.assertIn(tuple(dims), sets, source)
                self.assertEqual(dims, ["ClusterName"], source)


if __name__ == "__main__":
    unittest.main()
