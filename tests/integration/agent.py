"""Run the real agent and read the records it writes."""
import atexit
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

def no_duplicate_keys(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise AssertionError(f"duplicate keys in a record: {keys}")
    return dict(pairs)


LINE_RE = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z) stdout F (\{.*\})$")
AGENT = os.environ.get("NODETRAIL_AGENT", "build/nodetrail")
REQUIRE = os.environ.get("REQUIRE_BPF") == "1"


def missing_prerequisite():
    """Why real-kernel tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "not root"
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        return "kernel has no BTF"
    if not shutil.which("runc"):
        return "runc not installed"
    if not (shutil.which("busybox") or os.path.exists("/bin/busybox")):
        return "busybox not installed"
    return None


def sanitized(path=None):
    """The agent binary is the AddressSanitizer build (its memory is not the agent's own)."""
    with open(path or AGENT, "rb") as f:
        return b"__asan_init" in f.read()


def require_real_kernel(skip):
    """Skip (via the skip callable) where the machine cannot run real-kernel tests,
    except under REQUIRE_BPF=1, where that is a failure."""
    why = missing_prerequisite()
    if why:
        if REQUIRE:
            raise AssertionError(f"REQUIRE_BPF=1 but {why}")
        skip(why)


# every agent started and not yet stopped: a test that fails (or errors) between start() and stop()
# does not leave an agent running with its probes attached past the test run
_running = set()


@atexit.register
def _stop_leftovers():
    for proc in list(_running):
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    _running.clear()


class Agent:
    def __init__(self, *extra_args, node="itest-node", env=None, tmp=None):
        self.tmp = tmp or tempfile.mkdtemp(prefix="nodetrail-itest-")
        self.out = os.path.join(self.tmp, "out")
        self.state = os.path.join(self.tmp, "state")
        os.makedirs(self.out, exist_ok=True)
        self.args = [AGENT, "--bpf", "on", "--output-dir", self.out, "--state-dir", self.state,
                     "--node-name", node, "--cluster-name", "itest", "--log-level", "debug",
                     "--status-interval", "0"] + list(extra_args)
        self.env = dict(os.environ, POD_NAME="nodetrail-itest", POD_NAMESPACE="kube-system",
                        POD_UID="5e1f0c2a-7d4b-4c1e-9f3a-8b2d6e4f1a0c", CONTAINER_NAME="agent")
        self.env.update(env or {})
        self.stderr_path = os.path.join(self.tmp, "agent.stderr")
        self.proc = None

    def start(self, timeout=15):
        self.stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=self.stderr,
                                     env=self.env)
        _running.add(self.proc)
        pid = self.proc.pid
        self.wait_for(lambda r: r["type"] == "agent.status" and r["agent"]["state"] == "started"
                      and r["agent"].get("pid") == pid, timeout=timeout, what="agent.status started")
        return self

    def stop(self, sig=signal.SIGTERM, timeout=3):
        """Stop it; returns (exit code, seconds it took)."""
        t0 = time.time()
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            raise AssertionError(f"agent did not exit within {timeout} s of {sig!r}")
        finally:
            _running.discard(self.proc)
            self.reaped()
        return rc, time.time() - t0

    def reaped(self):
        """After the process is gone."""
        self.stderr.close()

    def log(self):
        with open(self.stderr_path) as f:
            return f.read()

    def files(self):
        return sorted(glob.glob(os.path.join(self.out, "*.log")))

    def lines(self):
        out = []
        for path in self.files():
            try:
                with open(path) as f:
                    out.extend(f.read().splitlines())
            except FileNotFoundError:
                pass  # deleted since it was listed (an earlier pod's file, pruned)
        return out

    def records(self):
        """Every record, checking each line's CRI format on the way."""
        recs = []
        for line in self.lines():
            m = LINE_RE.match(line)
            if not m:
                raise AssertionError(f"not a CRI line: {line!r}")
            recs.append(json.loads(m.group(2), object_pairs_hook=no_duplicate_keys))
        return recs

    def wait_for(self, pred, timeout=10, what="record"):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for r in self.records():
                if pred(r):
                    return r
            if self.proc and self.proc.poll() is not None:
                raise AssertionError(f"agent exited ({self.proc.returncode}) while waiting for {what}:\n"
                                     + self.log()[-3000:])
            time.sleep(0.05)
        raise AssertionError(f"no {what} within {timeout} s; records: "
                             + json.dumps([r.get("summary") for r in self.records()], indent=1))

    def for_container(self, cid, rtype):
        return [r for r in self.records() if r["type"] == rtype and r.get("container", {}).get("id") == cid]


class StdoutAgent(Agent):
    """The agent with --output stdout, and a stand-in for the container runtime: each line on its stdout
    and stderr goes, CRI-prefixed with its stream, into <pod logs>/<ns>_<pod>_<uid>/<container>/<n>.log,
    n the restart count (the number of earlier files), as containerd writes them. Each stdout line must
    be a bare JSON object (the runtime adds the prefix)."""

    def __init__(self, *extra_args, **kw):
        super().__init__(*extra_args, **kw)
        i = self.args.index("--output-dir")
        self.args[i:i + 2] = ["--output", "stdout", "--output-dir", self.out,
                              "--pod-logs-dir", os.path.join(self.tmp, "pods")]
        e = self.env
        self.logdir = os.path.join(self.tmp, "pods", f"{e['POD_NAMESPACE']}_{e['POD_NAME']}_{e['POD_UID']}",
                                   e["CONTAINER_NAME"])
        self.bad_stdout = []

    def start(self, timeout=15):
        os.makedirs(self.logdir, exist_ok=True)
        n = len(glob.glob(os.path.join(self.logdir, "*.log")))
        self.runtime_log = open(os.path.join(self.logdir, f"{n}.log"), "a")
        self.stderr = open(self.stderr_path, "w")
        lock = threading.Lock()
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env)
        _running.add(self.proc)

        def pump(stream, name, copy):
            for raw in stream:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                if name == "stdout":
                    try:
                        if not isinstance(json.loads(line), dict):
                            raise ValueError
                    except ValueError:
                        self.bad_stdout.append(line)
                ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".%09dZ" % (time.time_ns() % 10**9)
                with lock:
                    self.runtime_log.write(f"{ts} {name} F {line}\n")
                    self.runtime_log.flush()
                if copy:
                    copy.write(line + "\n")
                    copy.flush()

        self.pumps = [threading.Thread(target=pump, args=(self.proc.stdout, "stdout", None), daemon=True),
                      threading.Thread(target=pump, args=(self.proc.stderr, "stderr", self.stderr), daemon=True)]
        for t in self.pumps:
            t.start()
        pid = self.proc.pid
        self.wait_for(lambda r: r["type"] == "agent.status" and r["agent"]["state"] == "started"
                      and r["agent"].get("pid") == pid, timeout=timeout, what="agent.status started")
        return self

    def reaped(self):
        """After the process is gone: the pumps have read everything, the files are closed."""
        for t in self.pumps:
            t.join(timeout=5)
        self.runtime_log.close()
        if not self.stderr.closed:
            self.stderr.close()

    def files(self):
        return sorted(glob.glob(os.path.join(self.logdir, "*.log")),
                      key=lambda p: int(os.path.basename(p).split(".")[0]))

    def records(self):
        """Every record the runtime stored from stdout (stderr lines are the agent's log)."""
        recs = []
        for line in self.lines():
            m = re.match(r"^\S+ (stdout|stderr) F (.*)$", line)
            if not m:
                raise AssertionError(f"not a CRI line: {line!r}")
            if m.group(1) == "stdout":
                recs.append(json.loads(m.group(2), object_pairs_hook=no_duplicate_keys))
        return recs
