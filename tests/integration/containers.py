"""Real runc containers in kubelet-style cgroups, for the integration tests and the demo.

No systemd runs on the test machines, so runc uses its cgroupfs driver and we give it the
paths each kubelet cgroup driver would produce:
  systemd:  /kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid_>.slice/cri-containerd-<id>.scope
  cgroupfs: /kubepods/<qos>/pod<uid>/<id>
"""
import json
import signal
import os
import secrets
import shutil
import subprocess
import tempfile
import time
import unittest
import uuid

CGROUP_ROOT = "/sys/fs/cgroup"


def hierarchies():
    """Every mounted cgroup hierarchy directory (v1 controllers and the unified one)."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            fstype = parts[parts.index("-") + 1]
            if fstype in ("cgroup", "cgroup2") and parts[4].startswith(CGROUP_ROOT):
                out.append(parts[4])
    return out


def kubelet_roots():
    """Create the roots and QoS cgroups a kubelet creates at its start."""
    for h in hierarchies():
        for d in ("kubepods", "kubepods/burstable", "kubepods/besteffort",
                  "kubepods.slice", "kubepods.slice/kubepods-burstable.slice",
                  "kubepods.slice/kubepods-besteffort.slice"):
            os.makedirs(os.path.join(h, d), exist_ok=True)


def cgroups_path(layout, qos, pod_uid, cid):
    if layout == "systemd":
        u = pod_uid.replace("-", "_")
        if qos == "guaranteed":
            return f"/kubepods.slice/kubepods-pod{u}.slice/cri-containerd-{cid}.scope"
        return (f"/kubepods.slice/kubepods-{qos}.slice/kubepods-{qos}-pod{u}.slice/"
                f"cri-containerd-{cid}.scope")
    if qos == "guaranteed":
        return f"/kubepods/pod{pod_uid}/{cid}"
    return f"/kubepods/{qos}/pod{pod_uid}/{cid}"


class Rootfs:
    """A busybox root filesystem shared (read-only) by every container."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="nodetrail-rootfs-")
        bindir = os.path.join(self.dir, "bin")
        os.makedirs(bindir)
        busybox = shutil.which("busybox") or "/bin/busybox"
        shutil.copy(busybox, os.path.join(bindir, "busybox"))
        for applet in ("sh", "sleep", "true", "false", "dd", "kill", "cat", "head", "trap", "echo"):
            os.symlink("busybox", os.path.join(bindir, applet))
        for d in ("proc", "dev", "sys", "tmp"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class Container:
    """One runc container: create with Container(...).start(), then wait()/kill()/remove()."""

    def __init__(self, rootfs, args, layout="cgroupfs", qos="burstable", memory_limit=None,
                 pod_uid=None, name=None, pod_memory_limit=None):
        self.pod_uid = pod_uid or str(uuid.uuid4())
        self.id = secrets.token_hex(32)
        self.name = name or "nt-" + self.id[:12]
        self.layout = layout
        self.cgroup = cgroups_path(layout, qos, self.pod_uid, self.id)
        self.bundle = tempfile.mkdtemp(prefix="nodetrail-bundle-")
        self.log = os.path.join(self.bundle, "out.log")
        self.pid = None
        if pod_memory_limit:
            self._limit_pod(pod_memory_limit)
        spec = self._spec(rootfs, args, memory_limit)
        with open(os.path.join(self.bundle, "config.json"), "w") as f:
            json.dump(spec, f)

    def _limit_pod(self, limit):
        """A pod-level memory limit, as kubelet sets from the sum of the containers' limits."""
        pod_dir = os.path.dirname(self.cgroup)
        for h in hierarchies():
            for name in ("memory.limit_in_bytes", "memory.max"):
                if os.path.exists(os.path.join(h, name)) or os.path.exists(os.path.join(h, "kubepods", name)):
                    os.makedirs(h + pod_dir, exist_ok=True)
                    with open(os.path.join(h + pod_dir, name), "w") as f:
                        f.write(str(limit))

    def _spec(self, rootfs, args, memory_limit):
        spec = {
            "ociVersion": "1.0.2",
            "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": args,
                        "env": ["PATH=/bin"], "cwd": "/", "noNewPrivileges": True},
            "root": {"path": rootfs.dir, "readonly": True},
            "hostname": self.name,
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                 "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
                {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]},
            ],
            "linux": {
                "cgroupsPath": self.cgroup,
                "namespaces": [{"type": t} for t in ("pid", "mount", "ipc", "uts")],
                "resources": {"devices": [{"allow": False, "access": "rwm"}]},
                "maskedPaths": ["/proc/kcore"],
            },
        }
        if memory_limit:
            spec["linux"]["resources"]["memory"] = {"limit": memory_limit, "swap": memory_limit}
        return spec

    def start(self):
        """Create and start detached; stdout/stderr to a file, no terminal."""
        with open(self.log, "w") as out:
            subprocess.run(["runc", "create", "--bundle", self.bundle, self.name],
                           stdin=subprocess.DEVNULL, stdout=out, stderr=out, check=True, timeout=20)
        self.pid = int(self.state()["pid"])
        subprocess.run(["runc", "start", self.name], check=True, timeout=20,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return self

    def state(self):
        p = subprocess.run(["runc", "state", self.name], capture_output=True, text=True, timeout=10)
        if p.returncode != 0:
            return {"status": "gone"}
        return json.loads(p.stdout)

    def wait(self, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.state()["status"] in ("stopped", "gone"):
                return True
            time.sleep(0.05)
        return False

    def exec(self, args, timeout=20):
        return subprocess.run(["runc", "exec", self.name] + args, capture_output=True, text=True,
                              timeout=timeout)

    def kill(self, sig="TERM"):
        subprocess.run(["runc", "kill", self.name, sig], check=True, timeout=10,
                       capture_output=True)

    def remove(self):
        subprocess.run(["runc", "delete", "-f", self.name], capture_output=True, timeout=20)
        # runc removes its cgroups; the pod-level ones are the kubelet's to remove
        pod_dir = os.path.dirname(self.cgroup)
        for h in hierarchies():
            for d in (self.cgroup, pod_dir):
                try:
                    os.rmdir(h + d)
                except OSError:
                    pass
        shutil.rmtree(self.bundle, ignore_errors=True)


def cleanup_stale(prefix="nt-"):
    """Remove containers a crashed earlier run left behind."""
    p = subprocess.run(["runc", "list", "-q"], capture_output=True, text=True)
    for name in p.stdout.split():
        if name.startswith(prefix):
            subprocess.run(["runc", "delete", "-f", name], capture_output=True)


def inherit_cpuset(d):
    """A v1 cpuset cgroup takes no task before its cpus and mems are set: copy its parents' down,
    as runc does."""
    if not os.path.exists(os.path.join(d, "cpuset.cpus")):
        return
    chain = []
    while os.path.exists(os.path.join(d, "cpuset.cpus")):
        chain.append(d)
        d = os.path.dirname(d)
    for d in reversed(chain[:-1] if len(chain) > 1 else []):
        parent = os.path.dirname(d)
        for name in ("cpuset.cpus", "cpuset.mems"):
            with open(os.path.join(d, name)) as f:
                if f.read().strip():
                    continue
            with open(os.path.join(parent, name)) as f:
                value = f.read().strip()
            with open(os.path.join(d, name), "w") as f:
                f.write(value)


class CgroupProcess:
    """A container as the kernel sees one, without a runtime: the kubelet-style cgroup made in every
    hierarchy (as runc's cgroupfs driver makes it), and one process moved into it that then execs
    `sleep`, its first exec there. Cheap enough for a node of 250 pods; no namespaces, no rootfs."""

    def __init__(self, qos="burstable", pod_uid=None):
        self.pod_uid = pod_uid or str(uuid.uuid4())
        self.id = secrets.token_hex(32)
        self.cgroup = cgroups_path("cgroupfs", qos, self.pod_uid, self.id)
        self.proc = None

    def start(self):
        dirs = [h + self.cgroup for h in hierarchies()]
        for d in dirs:
            os.makedirs(d, exist_ok=True)
            inherit_cpuset(d)

        def enter():
            for d in dirs:
                with open(os.path.join(d, "cgroup.procs"), "w") as f:
                    f.write("0")

        self.proc = subprocess.Popen([shutil.which("sleep") or "/bin/sleep", "100000"], preexec_fn=enter,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        return self

    def kill(self, sig="TERM"):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(getattr(signal, "SIG" + sig))

    def wait(self, timeout=20):
        try:
            self.proc.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def remove(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for h in hierarchies():
            for d in (self.cgroup, os.path.dirname(self.cgroup)):
                try:
                    os.rmdir(h + d)
                except OSError:
                    pass


class ContainerCase(unittest.TestCase):
    """Tests that run short-lived real containers beside an agent: a rootfs, the containers removed after."""

    def setUp(self):
        from agent import require_real_kernel
        require_real_kernel(self.skipTest)
        kubelet_roots()
        self.rootfs = Rootfs()
        self.cs = []

    def tearDown(self):
        for c in self.cs:
            c.remove()
        self.rootfs.remove()

    def run_to_exit(self, agent, code):
        """A container that exits with code; its container.exited record, once the agent wrote it."""
        c = Container(self.rootfs, ["sh", "-c", f"exit {code}"]).start()
        self.cs.append(c)
        self.assertTrue(c.wait())
        return agent.wait_for(lambda r: r["type"] == "container.exited" and r["container"]["id"] == c.id,
                              what="container.exited")
