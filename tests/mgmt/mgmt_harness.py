"""A warrend with its management API and Prometheus endpoint on free ports,
and a small HTTP client (urllib: nothing outside the standard library)."""
import base64
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "amqp091"))
from amqp_harness import BrokerCase, Warrend  # noqa: E402

MGMT = re.compile(r"management HTTP API listening on ([0-9.]+):(\d+)")
PROM = re.compile(r"Prometheus metrics listening on ([0-9.]+):(\d+)")


class MgmtWarrend(Warrend):
    def __init__(self, *extra):
        super().__init__("--management-port", "0", "--prometheus-port", "0", *extra)
        self.mgmt_port = self.prom_port = None

    def start(self, timeout=20):
        super().start(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.stdout_text()
            m, p = MGMT.search(text), PROM.search(text)
            if m and p:
                self.mgmt_port, self.prom_port = int(m.group(2)), int(p.group(2))
                return self
            if not self.alive():
                break
            time.sleep(0.02)
        raise AssertionError(f"no management / Prometheus listening lines\n{self.describe()}")


def q(name):
    """A path segment, percent-encoded as RabbitMQ's clients do ("/" -> %2F)."""
    return urllib.parse.quote(name, safe="")


class Api:
    """HTTP basic auth against one warrend's management port."""

    def __init__(self, port, user="guest", password="guest", host="127.0.0.1"):
        self.base = f"http://{host}:{port}"
        self.user, self.password = user, password

    def call(self, method, path, body=None, headers=None, auth=True, raw=False):
        """(status, parsed JSON or text or None, response headers)"""
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if auth:
            token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, text, hdrs = r.status, r.read().decode(), dict(r.headers)
        except urllib.error.HTTPError as e:
            status, text, hdrs = e.code, e.read().decode(), dict(e.headers)
        if raw or not text:
            return status, (text or None), hdrs
        return status, json.loads(text), hdrs

    def get(self, path, **kw):
        status, body, _ = self.call("GET", path, **kw)
        if status != 200:
            raise AssertionError(f"GET {path}: {status} {body}")
        return body

    def put(self, path, body=None, **kw):
        return self.call("PUT", path, body if body is not None else {}, **kw)[0]

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body if body is not None else {}, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)[0]


def parse_exposition(text):
    """A strict reader of Prometheus's text format (0.0.4): {series: value}.
    Every sample's family must be declared by a # TYPE line before it, once;
    names, labels and escapes must be well-formed; each line ends in \\n."""
    name_re = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
    sample = re.compile(rf"^({name_re})(\{{(?:[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\n]|\\[\\\"n])*\",?)*\}})? (\S+)$")
    assert text.endswith("\n"), "the exposition must end with a newline"
    typed, out = {}, {}
    for line in text.split("\n")[:-1]:
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            parts = line.split(" ")
            assert len(parts) == 4, line
            assert parts[3] in ("counter", "gauge", "untyped", "histogram", "summary"), line
            assert parts[2] not in typed, f"{parts[2]} declared twice"
            typed[parts[2]] = parts[3]
            continue
        m = sample.match(line)
        assert m, f"not a sample line: {line!r}"
        family = m.group(1)
        for suffix in ("_bucket", "_sum", "_count"):  # a histogram's samples
            if family not in typed and family.endswith(suffix):
                family = family[: -len(suffix)]
                assert typed.get(family) == "histogram", f"{m.group(1)} outside a histogram"
        assert family in typed, f"no # TYPE before {m.group(1)}"
        value = float(m.group(3))
        out[m.group(1) + (m.group(2) or "")] = value
    return out, typed


class MgmtCase(BrokerCase):
    broker_args = ()

    @classmethod
    def make_broker(cls):
        return MgmtWarrend(*cls.broker_args)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.api = Api(cls.broker.mgmt_port)
