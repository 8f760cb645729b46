"""A stand-in Kubernetes API server for nodetrail's tests (Python stdlib only).

Speaks the parts of the real protocol the agent uses: core/v1 list and watch of pods, nodes
and events with field selectors, resourceVersions, bookmarks, chunked watch streams (lines
cut across chunks on purpose), bearer-token auth over TLS, and in-stream 410 "Expired"
errors. Fault knobs: fail the next requests with a status, drop or blackhole open watches,
expire them (410), compact history, inject raw bytes into a watch, rotate the token.
"""
import copy
import http.server
import json
import os
import socketserver
import ssl
import subprocess
import threading
import time
import urllib.parse
import uuid

RESOURCES = {"pods": "Pod", "nodes": "Node", "events": "Event"}


def make_certs(directory):
    """A throwaway CA and a server certificate for 127.0.0.1 / localhost."""
    def run(*args):
        subprocess.run(args, check=True, capture_output=True)

    ca_key, ca = os.path.join(directory, "ca.key"), os.path.join(directory, "ca.crt")
    key, csr, crt = (os.path.join(directory, n) for n in ("server.key", "server.csr", "server.crt"))
    ext = os.path.join(directory, "ext.cnf")
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
        "-days", "2", "-subj", "/CN=nodetrail-test-ca")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=localhost")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", crt,
        "-days", "2", "-extfile", ext)
    return ca, crt, key


def matches(resource, obj, selector):
    for term in filter(None, selector.split(",")):
        field, _, want = term.partition("=")
        if resource == "pods" and field == "spec.nodeName":
            got = obj.get("spec", {}).get("nodeName")
        elif resource == "nodes" and field == "metadata.name":
            got = obj.get("metadata", {}).get("name")
        elif resource == "events" and field.startswith("involvedObject."):
            got = obj.get("involvedObject", {}).get(field.split(".", 1)[1])
        elif field == "metadata.namespace":  # the path's namespace (/api/v1/namespaces/<ns>/...)
            got = obj.get("metadata", {}).get("namespace", "default")
        else:
            raise ValueError(f"field label not supported: {field}")
        if got != want:
            return False
    return True


class Watch:
    def __init__(self, resource, selector):
        self.resource, self.selector = resource, selector
        self.queue = []
        self.cond = threading.Condition()
        self.closed = False
        self.mode = None  # "drop", "expire"

    def push(self, item):
        with self.cond:
            self.queue.append(item)
            self.cond.notify()


class KubeAPI:
    def __init__(self, directory, bookmark_interval=1.0, history=1000, chunk_split=7):
        self.dir = directory
        self.ca_file, crt, key = make_certs(directory)
        self.token_file = os.path.join(directory, "token")
        self.tokens = set()
        self.rotate_token()
        self.lock = threading.RLock()
        self.rv = 100
        self.objects = {r: {} for r in RESOURCES}   # key (ns, name) -> obj
        self.history = []                            # (rv, resource, type, obj)
        self.history_cap = history
        self.oldest_rv = self.rv
        self.watches = []
        self.fail = []                               # statuses for the next requests
        self.blackhole_until = 0.0
        self.bookmark_interval = bookmark_interval
        self.chunk_split = chunk_split               # cut every line into pieces of this many bytes
        self.gone_as_http = False                    # answer too-old watches with HTTP 410, not in-stream
        self.always_gone = False                     # every watch: in-stream 410 (a server that cannot follow)
        self.counters = {"requests": 0, "list": {}, "watch": {}, "unauthorized": 0, "bytes": 0}
        handler = self._handler()
        self.httpd = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, address: None  # clients hang up mid-watch: expected
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    # ---- state ----
    def rotate_token(self, keep_old=False):
        token = uuid.uuid4().hex
        if not keep_old:
            self.tokens = set()
        self.tokens.add(token)
        with open(self.token_file + ".tmp", "w") as f:
            f.write(token + "\n")
        os.rename(self.token_file + ".tmp", self.token_file)
        return token

    def _key(self, obj):
        m = obj["metadata"]
        return (m.get("namespace", ""), m["name"])

    def upsert(self, resource, obj):
        with self.lock:
            obj = copy.deepcopy(obj)
            m = obj.setdefault("metadata", {})
            self.rv += 1
            m["resourceVersion"] = str(self.rv)
            m.setdefault("uid", str(uuid.uuid4()))
            m.setdefault("creationTimestamp", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            key = self._key(obj)
            old = self.objects[resource].get(key)
            self.objects[resource][key] = obj
            self._record(resource, "MODIFIED" if old else "ADDED", obj, old)
            return obj

    def delete(self, resource, namespace, name):
        with self.lock:
            obj = self.objects[resource].pop((namespace, name))
            self.rv += 1
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = str(self.rv)
            self._record(resource, "DELETED", obj, None)

    def _record(self, resource, etype, obj, old):
        self.history.append((self.rv, resource, etype, obj, old))
        if len(self.history) > self.history_cap:
            self.compact(keep=self.history_cap)
        for w in list(self.watches):
            if w.resource == resource:
                ev = self._visible(w, etype, obj, old)
                if ev:
                    w.push(ev)

    def _visible(self, w, etype, obj, old):
        now, was = matches(w.resource, obj, w.selector), old is not None and matches(w.resource, old, w.selector)
        if etype == "DELETED":
            return {"type": "DELETED", "object": obj} if now else None
        if now and not was:
            return {"type": "ADDED", "object": obj}
        if now:
            return {"type": "MODIFIED", "object": obj}
        if was:
            return {"type": "DELETED", "object": obj}
        return None

    def compact(self, keep=0):
        with self.lock:
            self.history = self.history[len(self.history) - keep:] if keep else []
            self.oldest_rv = self.history[0][0] - 1 if self.history else self.rv

    # ---- faults ----
    def fail_next(self, n, status=500):
        self.fail.extend([status] * n)

    def drop_watches(self):
        for w in list(self.watches):
            w.mode = "drop"
            w.push(None)

    def expire_watches(self):
        for w in list(self.watches):
            w.mode = "expire"
            w.push(None)

    def blackhole(self, seconds):
        self.blackhole_until = time.time() + seconds

    def down(self, seconds):
        """The API server unavailable: 503 to every request, open watches cut, for this long."""
        self.down_until = time.time() + seconds
        self.drop_watches()

    def slow(self, seconds):
        """Each list answered after this delay."""
        self.list_delay = seconds

    def inject_raw(self, resource, line):
        for w in list(self.watches):
            if w.resource == resource:
                w.push(("raw", line))

    def close(self):
        self.httpd.shutdown()
        for w in list(self.watches):
            w.mode = "drop"
            w.push(None)
        self.httpd.server_close()

    # ---- HTTP ----
    def _handler(self):
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def send_json(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                api.counters["bytes"] += len(data)

            def status(self, code, reason, message):
                self.send_json(code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                      "message": message, "reason": reason, "code": code})

            def do_GET(self):
                api.counters["requests"] += 1
                u = urllib.parse.urlparse(self.path)
                q = {k: v[0] for k, v in urllib.parse.parse_qs(u.query, keep_blank_values=True).items()}
                auth = self.headers.get("Authorization", "")
                if not auth.startswith("Bearer ") or auth[7:] not in api.tokens:
                    api.counters["unauthorized"] += 1
                    return self.status(401, "Unauthorized", "Unauthorized")
                if api.fail:
                    return self.status(api.fail.pop(0), "InternalError", "injected failure")
                if time.time() < getattr(api, "down_until", 0):
                    api.counters["refused_down"] = api.counters.get("refused_down", 0) + 1
                    return self.status(503, "ServiceUnavailable", "the API server is down")
                parts = u.path.strip("/").split("/")
                if self.discovery(parts):
                    return
                namespace = None
                if len(parts) == 5 and parts[:3] == ["api", "v1", "namespaces"] and parts[4] != "nodes":
                    namespace = parts[3]  # /api/v1/namespaces/<ns>/<resource>
                    parts = ["api", "v1", parts[4]]
                if len(parts) != 3 or parts[:2] != ["api", "v1"] or parts[2] not in RESOURCES:
                    return self.status(404, "NotFound", "not found")
                resource = parts[2]
                selector = q.get("fieldSelector", "")
                if namespace is not None:
                    selector = ",".join(x for x in (selector, f"metadata.namespace={namespace}") if x)
                try:
                    matches(resource, {}, selector)
                except ValueError as e:
                    return self.status(400, "BadRequest", str(e))
                except Exception:
                    pass
                verb = "watch" if q.get("watch") in ("1", "true") else "list"
                api.counters[verb][resource] = api.counters[verb].get(resource, 0) + 1
                if verb == "list":
                    time.sleep(getattr(api, "list_delay", 0))
                    return self.list(resource, selector)
                return self.watch(resource, selector, q)

            def discovery(self, parts):
                """What kubectl asks before it lists: the core group and its resources."""
                if parts == ["api"]:
                    self.send_json(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
                elif parts == ["apis"]:
                    self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
                elif parts == ["api", "v1"]:
                    self.send_json(200, {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
                        {"name": name, "singularName": kind.lower(), "namespaced": name != "nodes", "kind": kind,
                         "verbs": ["get", "list", "watch"]} for name, kind in RESOURCES.items()]})
                elif parts == ["version"]:
                    self.send_json(200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0-nodetrail-fake"})
                else:
                    return False
                return True

            def list(self, resource, selector):
                with api.lock:
                    items = [o for o in api.objects[resource].values() if matches(resource, o, selector)]
                    body = {"kind": RESOURCES[resource] + "List", "apiVersion": "v1",
                            "metadata": {"resourceVersion": str(api.rv)}, "items": items}
                self.send_json(200, body)

            def chunk(self, data):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
                api.counters["bytes"] += len(data)

            def line(self, data):
                # cut each line across several chunks, as proxies and the apiserver may
                step = api.chunk_split or len(data)
                for i in range(0, len(data), step):
                    self.chunk(data[i:i + step])

            def watch(self, resource, selector, q):
                rv = int(q.get("resourceVersion") or api.rv)
                timeout = float(q.get("timeoutSeconds") or 300)
                bookmarks = q.get("allowWatchBookmarks") == "true"
                if api.gone_as_http and rv < api.oldest_rv:
                    return self.status(410, "Gone", f"too old resource version: {rv} ({api.oldest_rv})")
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                w = Watch(resource, selector)
                with api.lock:
                    if rv < api.oldest_rv or api.always_gone:
                        err = {"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "metadata": {},
                               "status": "Failure", "message": f"too old resource version: {rv} ({api.oldest_rv})",
                               "reason": "Expired", "code": 410}}
                        self.line(json.dumps(err).encode() + b"\n")
                        self.chunk(b"")
                        return
                    for hrv, hres, etype, obj, old in api.history:
                        if hrv > rv and hres == resource:
                            ev = api._visible(w, etype, obj, old)
                            if ev:
                                w.queue.append(ev)
                    api.watches.append(w)
                end = time.time() + timeout
                next_bookmark = time.time() + api.bookmark_interval
                try:
                    while time.time() < end:
                        with w.cond:
                            if not w.queue:
                                w.cond.wait(timeout=0.1)
                            items, w.queue = w.queue, []
                        if w.mode == "drop":
                            self.connection.shutdown(2)
                            return
                        if w.mode == "expire":
                            err = {"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                   "status": "Failure", "message": "too old resource version", "reason": "Expired",
                                   "code": 410}}
                            self.line(json.dumps(err).encode() + b"\n")
                            break
                        if time.time() < api.blackhole_until:
                            with w.cond:
                                w.queue = items + w.queue
                            time.sleep(0.1)
                            continue
                        for item in items:
                            if item is None:
                                continue
                            if isinstance(item, tuple):
                                self.line(item[1])
                                continue
                            self.line(json.dumps(item).encode() + b"\n")
                        if bookmarks and time.time() >= next_bookmark:
                            bm = {"type": "BOOKMARK", "object": {"kind": RESOURCES[resource], "apiVersion": "v1",
                                                                 "metadata": {"resourceVersion": str(api.rv)}}}
                            self.line(json.dumps(bm).encode() + b"\n")
                            next_bookmark = time.time() + api.bookmark_interval
                    self.chunk(b"")
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
                    pass
                finally:
                    with api.lock:
                        if w in api.watches:
                            api.watches.remove(w)

        return Handler
