"""Start and stop the two brokers bench/compare measures: warrend (Release)
and RabbitMQ 3.10 (Debian's rabbitmq-server), each on its own port and in
its own temporary directory. Also CPU and RSS readings from /proc."""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

RABBIT_BIN = "/usr/lib/rabbitmq/bin"


def cpu_seconds(pid):
    """User + system CPU seconds of a process (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def descendants(pid):
    """pid and every process below it."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except FileNotFoundError:
            pass
    return out


class Warren:
    name = "Warren"

    def __init__(self, warrend, log_level="warn", management=None):
        """management: None, the management API and Prometheus off (as a
        RabbitMQ without its management plugin, which compare.py runs); or
        (api_port, prometheus_port) to serve them there."""
        self.warrend = warrend
        self.log_level = log_level
        self.management = management
        self.proc = None
        self.dir = None
        self.port = None

    def start(self, fresh=True, extra=(), timeout=30):
        """fresh=False: again on the data dir of the last run (a restart)."""
        if fresh or not self.dir:
            self.dir = tempfile.mkdtemp(prefix="compare-warren.")
        self.port = None
        self.log = os.path.join(self.dir, "warrend.log")
        if self.management is None:
            http = ["--no-management", "--no-prometheus"]
        else:
            http = ["--management-port", str(self.management[0]), "--prometheus-port", str(self.management[1])]
        self.proc = subprocess.Popen(
            [self.warrend, "--amqp-port", "0", "--data-dir", self.dir,
             "--socketlock-path", os.path.join(self.dir, "sl.sock"), "--log-level", self.log_level, *http, *extra],
            stdout=open(self.log, "a"), stderr=subprocess.STDOUT)
        # The listening line is at info level: read the port from /proc instead of the log.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.port is None:
            if self.proc.poll() is not None:
                raise RuntimeError("warrend exited: " + open(self.log).read())
            self.port = listening_port(self.proc.pid, exclude=set(self.management or ()))
            time.sleep(0.05)
        if self.port is None:
            raise RuntimeError("warrend did not listen")
        self.pid = self.proc.pid

    def uri(self):
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def stop(self, keep_dir=False):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.dir and not keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
        self.proc = None


def listening_port(pid, exclude=()):
    """The TCP port a process listens on (the first, from /proc/net/tcp,
    that is not in `exclude`)."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            m = re.match(r"socket:\[(\d+)\]", target)
            if m:
                inodes.add(m.group(1))
    except FileNotFoundError:
        return None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                cols = line.split()
                if cols[3] == "0A" and cols[9] in inodes:  # LISTEN
                    port = int(cols[1].split(":")[1], 16)
                    if port not in exclude:
                        return port
    return None


class RabbitMQ:
    name = "RabbitMQ"

    def __init__(self, port, amqp10=True):
        self.port = port
        self.node = f"warren-compare-{port}@localhost"
        self.amqp10 = amqp10
        self.proc = None
        self.dir = None
        self.pid = None

    def env(self):
        e = dict(os.environ)
        e.update({
            "HOME": self.dir,  # its own Erlang cookie
            "RABBITMQ_MNESIA_BASE": os.path.join(self.dir, "mnesia"),
            "RABBITMQ_LOG_BASE": os.path.join(self.dir, "log"),
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_DIST_PORT": str(self.port + 20000),
            "RABBITMQ_ENABLED_PLUGINS_FILE": os.path.join(self.dir, "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": os.path.join(self.dir, "rabbitmq"),
        })
        return e

    def ctl(self, *args, timeout=120):
        return subprocess.run([os.path.join(RABBIT_BIN, "rabbitmqctl"), "-n", self.node, *args],
                              env=self.env(), capture_output=True, text=True, timeout=timeout)

    def start(self, fresh=True, timeout=120):
        """fresh=False: again on the node's data of the last run (a restart)."""
        if fresh or not self.dir:
            self.dir = tempfile.mkdtemp(prefix="compare-rabbitmq.")
        with open(os.path.join(self.dir, "enabled_plugins"), "w") as f:
            f.write("[rabbitmq_amqp1_0].\n" if self.amqp10 else "[].\n")
        with open(os.path.join(self.dir, "rabbitmq.conf"), "w") as f:
            f.write(f"listeners.tcp.1 = 127.0.0.1:{self.port}\n")
        self.proc = subprocess.Popen([os.path.join(RABBIT_BIN, "rabbitmq-server")], env=self.env(),
                                     stdout=open(os.path.join(self.dir, "stdout.log"), "a"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("rabbitmq-server exited: " +
                                   open(os.path.join(self.dir, "stdout.log")).read()[-2000:])
            if self.ctl("await_startup", "--timeout", "60").returncode == 0:
                break
            time.sleep(1)
        else:
            raise RuntimeError("RabbitMQ did not start")
        for p in descendants(self.proc.pid):
            try:
                with open(f"/proc/{p}/comm") as f:
                    if f.read().strip().startswith("beam.smp"):
                        self.pid = p
            except FileNotFoundError:
                pass
        if self.pid is None:
            raise RuntimeError("no beam.smp under rabbitmq-server")

    def uri(self):
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def version(self):
        r = self.ctl("version", timeout=60)
        return r.stdout.strip() if r.returncode == 0 else "3.10"

    def stop(self, keep_dir=False):
        if self.proc and self.proc.poll() is None:
            try:
                self.ctl("stop", timeout=300)
                self.proc.wait(timeout=300 if keep_dir else 30)
            except Exception:
                pass
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.dir and not keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
        self.proc = None
        self.pid = None
