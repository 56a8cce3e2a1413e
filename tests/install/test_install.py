"""Installing Warren and running it as a service (issue 15, section 6).

From one build tree (CTest passes WARREN_BUILD_DIR and WARREN_SOURCE_DIR),
in a scratch directory, as `make install` and `make deb` would:

- `cmake --install` into a DESTDIR with prefix /usr/local: the programs,
  the unit pointing at /usr/local, the configuration (an edited one kept),
  the client library's files;
- `cpack -G DEB` (uncompressed, and without dpkg-shlibdeps, which takes
  7-20 s on the sanitized binaries: it runs meanwhile on warrenctl alone),
  then `dpkg-deb -I/-c` of both packages, and a chrootless
  `dpkg --root --force-script-chrootless -i` of both into an empty root:
  the maintainer scripts run with DPKG_ROOT set, make the warren user
  there (systemd-sysusers) and enable the unit (deb-systemd-helper), and
  start nothing;
- the man pages help2man made of each program's --help;
- `systemd-analyze verify` and `security` of the installed unit;
- the installed warrend, started with the installed default configuration
  moved to scratch paths and free ports, AMQPS on, as systemd would start
  it: NOTIFY_SOCKET at a datagram socket of the test's, WATCHDOG_USEC,
  JOURNAL_STREAM naming its stderr. READY=1 arrives with the addresses;
  pika publishes and gets; the installed warrenctl and socketlock talk to
  it; SIGHUP re-reads the file (RELOADING=1 then READY=1): a new log level
  applies, a new heartbeat is reported as needing a restart, the AMQPS
  certificate renewed in place is served to new connections, a broken
  file changes nothing; WATCHDOG=1 keeps coming; SIGTERM sends STOPPING=1
  and exits 0; the files it made have the modes the unit's umask and
  socket_mode give;
- a program built against the installed libwarren-client-dev with
  pkg-config, and again with its CMake package (find_package).

WARREN_KEEP_TMP=1 keeps the scratch directory.
"""
import gzip
import os
import re
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import pika

BUILD = os.environ.get("WARREN_BUILD_DIR", "")
SOURCE = os.environ.get("WARREN_SOURCE_DIR", "")
SANITIZER = re.compile(r"(ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|SUMMARY: \w+Sanitizer)")


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def run(argv, **kw):
    """Runs argv; its output on failure."""
    kw.setdefault("timeout", 120)
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, argv))}: exit {p.returncode}\n{p.stdout[-4000:]}")
    return p.stdout


def make_cert(directory, name, cn):
    """A self-signed certificate and its key; returns the certificate's serial."""
    cert, key = os.path.join(directory, name + ".pem"), os.path.join(directory, name + ".key")
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "2", "-subj", f"/CN={cn}", "-keyout", key, "-out", cert])
    serial = run(["openssl", "x509", "-in", cert, "-noout", "-serial"]).strip().split("=", 1)[1]
    return cert, key, int(serial, 16)


def served_serial(port):
    """The serial of the certificate a TLS server on 127.0.0.1:port presents."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw) as s:
            der = s.getpeercert(binary_form=True)
    pem = ssl.DER_cert_to_PEM_cert(der)
    out = subprocess.run(["openssl", "x509", "-noout", "-serial"], input=pem, capture_output=True, text=True,
                         check=True).stdout
    return int(out.strip().split("=", 1)[1], 16)


class Notifications:
    """systemd's side of sd_notify: a datagram socket at a path, read by a
    thread that notes when each message came."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.1)
        self.lock = threading.Lock()
        self.received = []  # (monotonic time, message)
        self.stopped = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while not self.stopped:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            with self.lock:
                self.received.append((time.monotonic(), data.decode()))

    def close(self):
        self.stopped = True
        self.reader.join()
        self.sock.close()

    @property
    def messages(self):
        with self.lock:
            return [m for _, m in self.received]

    def times_of(self, message):
        with self.lock:
            return [t for t, m in self.received if m == message]

    def wait_for(self, field, timeout, proc=None, after=0):
        """The index of the first message from `after` on with `field` (e.g. "READY=1")."""
        deadline = time.monotonic() + timeout
        while True:
            messages = self.messages
            for i in range(after, len(messages)):
                if field in messages[i].split("\n"):
                    return i
            if time.monotonic() > deadline:
                raise AssertionError(f"no {field} in {timeout} s; got {messages}")
            if proc is not None and proc.poll() is not None:
                raise AssertionError(f"warrend exited ({proc.returncode}) before {field}; got {messages}")
            time.sleep(0.01)

    @staticmethod
    def status(message):
        for line in message.split("\n"):
            if line.startswith("STATUS="):
                return line[len("STATUS="):]
        return ""


@unittest.skipUnless(BUILD and SOURCE, "run by CTest (WARREN_BUILD_DIR, WARREN_SOURCE_DIR)")
class InstallTest(unittest.TestCase):
    """One scratch directory for the class: the staged install, the packages,
    the root they are installed into."""

    @classmethod
    def setUpClass(cls):
        cls.t0 = time.monotonic()
        cls.tmp = tempfile.mkdtemp(prefix="warren-install-", dir="/tmp")
        cls.stage = os.path.join(cls.tmp, "stage")
        cls.root = os.path.join(cls.tmp, "root")
        cls.pkgs = os.path.join(cls.tmp, "packages")
        cls.times = {}

        # make install, staged.
        t = time.monotonic()
        run(["cmake", "--install", BUILD, "--prefix", "/usr/local"], env={**os.environ, "DESTDIR": cls.stage})
        cls.times["cmake --install"] = time.monotonic() - t

        # make deb, from this tree: no compression, no stripping, and no
        # dpkg-shlibdeps (the test's time goes on the checks): on the
        # sanitized binaries it takes 7-20 s (a dpkg query per library,
        # a symbols file each), so test_shlibdeps runs it on warrenctl
        # alone, in the background from here.
        t = time.monotonic()
        shlib_dir = os.path.join(cls.tmp, "shlibdeps")
        os.makedirs(os.path.join(shlib_dir, "debian"))
        open(os.path.join(shlib_dir, "debian", "control"), "w").close()
        cls.shlibdeps = subprocess.Popen(["dpkg-shlibdeps", "-O", os.path.join(cls.stage, "usr/local/bin/warrenctl")],
                                         cwd=shlib_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        run(["cpack", "-G", "DEB", "--config", os.path.join(BUILD, "CPackConfig.cmake"), "-B", cls.pkgs,
             "-D", "CPACK_DEBIAN_COMPRESSION_TYPE=none", "-D", "CPACK_STRIP_FILES=OFF",
             "-D", "CPACK_DEBIAN_PACKAGE_SHLIBDEPS=OFF"], cwd=BUILD)
        cls.times["cpack"] = time.monotonic() - t
        debs = sorted(f for f in os.listdir(cls.pkgs) if f.endswith(".deb"))
        cls.deb = {d.split("_", 1)[0]: os.path.join(cls.pkgs, d) for d in debs}

        # A chrootless install into an empty root, as on a fresh system
        # (--force-depends: the root has no other package).
        t = time.monotonic()
        admin = os.path.join(cls.root, "var", "lib", "dpkg")
        for d in ("info", "updates", "triggers"):
            os.makedirs(os.path.join(admin, d), exist_ok=True)
        open(os.path.join(admin, "status"), "w").close()
        cls.dpkg = ["dpkg", f"--root={cls.root}", f"--log={os.path.join(cls.tmp, 'dpkg.log')}",
                    "--force-script-chrootless", "--force-depends", "--force-not-root"]
        cls.dpkg_out = run([*cls.dpkg, "-i", *cls.deb.values()])
        cls.times["dpkg -i"] = time.monotonic() - t

    @classmethod
    def tearDownClass(cls):
        if cls.shlibdeps.poll() is None:
            cls.shlibdeps.kill()
        cls.shlibdeps.communicate()
        print(f"\ntimes: {', '.join(f'{k} {v:.1f} s' for k, v in cls.times.items())}; "
              f"whole class {time.monotonic() - cls.t0:.1f} s", file=sys.stderr)
        if os.environ.get("WARREN_KEEP_TMP"):
            print(f"kept {cls.tmp}", file=sys.stderr)
        else:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.t_test = time.monotonic()

    def tearDown(self):
        self.times[self._testMethodName[len("test_"):]] = time.monotonic() - self.t_test

    def in_root(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    # --- make install -------------------------------------------------------

    def test_staged_install(self):
        s = lambda p: os.path.join(self.stage, p.lstrip("/"))  # noqa: E731
        for prog in ("/usr/local/sbin/warrend", "/usr/local/bin/socketlock", "/usr/local/bin/warrenctl",
                     "/usr/local/bin/warren-store"):
            self.assertTrue(os.access(s(prog), os.X_OK), prog)
        unit = read(s("/usr/local/lib/systemd/system/warrend.service"))
        self.assertIn("\nExecStart=/usr/local/sbin/warrend --config /usr/local/etc/warren/warrend.toml\n", unit)
        for f in ("/usr/local/etc/warren/warrend.toml", "/usr/local/lib/sysusers.d/warren.conf",
                  "/usr/local/include/warren/client/connection.hpp",
                  "/usr/local/include/warren/amqp091/generated/methods.hpp",
                  "/usr/local/lib/libwarren_client.a", "/usr/local/lib/pkgconfig/warren-client.pc",
                  "/usr/local/lib/cmake/WarrenClient/WarrenClientConfig.cmake",
                  "/usr/local/share/doc/warren/README.md"):
            self.assertTrue(os.path.exists(s(f)), f)
        # Installing again over an edited configuration keeps it.
        conf = s("/usr/local/etc/warren/warrend.toml")
        with open(conf, "a") as f:
            f.write("# edited by the administrator\n")
        run(["cmake", "--install", BUILD, "--prefix", "/usr/local", "--component", "server"],
            env={**os.environ, "DESTDIR": self.stage})
        self.assertIn("# edited by the administrator", read(conf))
        self.assertEqual(read(conf + ".dist"), read(os.path.join(SOURCE, "packaging", "warrend.toml")))

    # --- make deb -----------------------------------------------------------

    def test_packages(self):
        self.assertEqual(sorted(self.deb), ["libwarren-client-dev", "warren"])
        info = run(["dpkg-deb", "-I", self.deb["warren"]])
        fields = dict(re.findall(r"^ ([A-Z][\w-]*): (.*)$", info, re.M))
        self.assertEqual(fields["Package"], "warren")
        self.assertRegex(fields["Version"], r"^\d+\.\d+\.\d+-1$")
        self.assertEqual(fields["Section"], "net")
        self.assertEqual(fields["Depends"], "adduser, init-system-helpers (>= 1.54~)")  # no shlibdeps here
        for script in ("postinst", "prerm", "postrm", "conffiles"):
            self.assertRegex(info, rf"\n\s+\d+ bytes,\s+\d+ lines\s+\*?\s*{script}\b")
        files = run(["dpkg-deb", "-c", self.deb["warren"]])
        for path in ("./usr/sbin/warrend", "./usr/bin/socketlock", "./usr/bin/warrenctl", "./usr/bin/warren-store",
                     "./lib/systemd/system/warrend.service", "./etc/warren/warrend.toml",
                     "./usr/lib/sysusers.d/warren.conf", "./usr/share/doc/warren/README.md",
                     "./usr/share/doc/warren/changelog.Debian.gz", "./usr/share/man/man8/warrend.8.gz",
                     "./usr/share/man/man1/socketlock.1.gz", "./usr/share/man/man1/warrenctl.1.gz",
                     "./usr/share/man/man1/warren-store.1.gz"):
            self.assertRegex(files, rf"\s{re.escape(path)}\n", path)
        self.assertRegex(files, r"-rwxr-xr-x root/root .* \./usr/sbin/warrend\n")
        self.assertNotIn("include/", files)  # those are the -dev package's
        dev = run(["dpkg-deb", "-c", self.deb["libwarren-client-dev"]])
        for path in ("include/warren/client/connection.hpp", "libwarren_client.a", "pkgconfig/warren-client.pc",
                     "cmake/WarrenClient/WarrenClientConfig.cmake"):
            self.assertIn(path, dev)
        self.assertIn("Section: libdevel", run(["dpkg-deb", "-I", self.deb["libwarren-client-dev"]]))
        self.assertIn("usr/share/doc/libwarren-client-dev/changelog.Debian.gz", dev)

    def test_man_pages(self):
        # From each program's --help: every option is there; socketlock's
        # subcommands have a section each.
        def page(name, section):
            with gzip.open(self.in_root(f"/usr/share/man/man{section}/{name}.{section}.gz"), "rt") as f:
                return f.read()
        warrend = page("warrend", 8)
        self.assertIn(".TH WARREND", warrend)
        for flag in ("config", "data\\-dir", "socketlock\\-socket\\-mode", "management\\-port"):
            self.assertIn(f"\\-\\-{flag}", warrend)
        socketlock = page("socketlock", 1)
        for section in ("SOCKETLOCK RUN", "SOCKETLOCK SERVE", "SOCKETLOCK STATUS", "SEE ALSO"):
            self.assertIn(f'.SH "{section}"', socketlock)
        self.assertIn("--kill-on-loss", socketlock)  # in RUN's preformatted help
        self.assertIn("list_queues", page("warrenctl", 1))
        self.assertIn("WARREN-STORE VERIFY", page("warren-store", 1))

    def test_chrootless_install(self):
        status = run(["dpkg-query", f"--admindir={self.in_root('/var/lib/dpkg')}", "-W",
                      "-f=${Package} ${Status}\n"])
        self.assertIn("warren install ok installed", status)
        self.assertIn("libwarren-client-dev install ok installed", status)
        self.assertTrue(os.access(self.in_root("/usr/sbin/warrend"), os.X_OK))
        unit = read(self.in_root("/lib/systemd/system/warrend.service"))
        self.assertIn("\nExecStart=/usr/sbin/warrend --config /etc/warren/warrend.toml\n", unit)
        self.assertIn("\nType=notify\n", unit)
        # postinst, with DPKG_ROOT: the unit enabled in the root, the warren
        # user made there (not on this machine).
        link = self.in_root("/etc/systemd/system/multi-user.target.wants/warrend.service")
        self.assertTrue(os.path.islink(link), self.dpkg_out)
        self.assertEqual(os.readlink(link), "/lib/systemd/system/warrend.service")
        if shutil.which("systemd-sysusers"):
            passwd = read(self.in_root("/etc/passwd"))
            self.assertRegex(passwd, r"(?m)^warren:x:\d+:\d+:.*:/var/lib/warren:/usr/sbin/nologin$")
        # The conffile is registered as one.
        conffiles = run(["dpkg-query", f"--admindir={self.in_root('/var/lib/dpkg')}", "-W",
                         "-f=${Conffiles}\n", "warren"])
        self.assertIn("/etc/warren/warrend.toml", conffiles)
        # Installing again, as an upgrade does (postinst configure with the
        # old version): an edited conffile is kept, without a question.
        conffile = self.in_root("/etc/warren/warrend.toml")
        with open(conffile, "a") as f:
            f.write("# edited by the administrator\n")
        run([*self.dpkg, "-i", self.deb["warren"]], stdin=subprocess.DEVNULL)
        self.assertIn("# edited by the administrator", read(conffile))
        self.assertTrue(os.path.lexists(link))
        # Removing and purging: the files, the enable link and the data go.
        os.makedirs(self.in_root("/var/lib/warren/store"), exist_ok=True)
        run([*self.dpkg, "--purge", "warren"])
        self.assertFalse(os.path.exists(self.in_root("/usr/sbin/warrend")))
        self.assertFalse(os.path.lexists(link))
        self.assertFalse(os.path.exists(self.in_root("/var/lib/warren")))
        self.assertFalse(os.path.exists(self.in_root("/etc/warren/warrend.toml")))
        # And back, for the tests that use the installed tree.
        run([*self.dpkg, "-i", self.deb["warren"]])
        self.assertTrue(os.path.lexists(link))

    def test_unit_verifies(self):
        # systemd-analyze checks the unit against this machine: its ExecStart
        # must exist here, so a copy names the installed binary in the root.
        unit = read(self.in_root("/lib/systemd/system/warrend.service"))
        unit = unit.replace("ExecStart=/usr/sbin/warrend", "ExecStart=" + self.in_root("/usr/sbin/warrend"))
        d = os.path.join(self.tmp, "unit")
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "warrend.service")
        with open(path, "w") as f:
            f.write(unit)
        p = subprocess.run(["systemd-analyze", "verify", "--man=no", path], capture_output=True, text=True,
                           timeout=60)
        problems = [line for line in (p.stdout + p.stderr).splitlines() if "warrend.service" in line]
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(problems, [])
        # Its hardening: an exposure level of 2.0 at most (1.2 when written).
        p = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--threshold=20", path],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout[-3000:] + p.stderr)
        for setting in ("User=warren", "StateDirectory=warren", "StateDirectoryMode=0750", "UMask=0077",
                        "ConfigurationDirectory=warren", "ExecReload=/bin/kill -HUP $MAINPID", "WatchdogSec=",
                        "NoNewPrivileges=yes", "ProtectSystem=strict", "CapabilityBoundingSet=\n",
                        "SystemCallFilter=@system-service", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"):
            self.assertIn(setting, unit)

    # --- the installed warrend, as systemd starts it -------------------------

    def test_service(self):
        run_dir = os.path.join(self.tmp, "svc")
        os.makedirs(run_dir, exist_ok=True)
        cert, key, serial1 = make_cert(run_dir, "server", "warren-1")
        # The packaged default, moved to scratch paths and free ports, AMQPS on.
        conf = read(self.in_root("/etc/warren/warrend.toml"))
        conf = conf.replace('data_dir = "/var/lib/warren"', f'data_dir = "{run_dir}/data"')
        conf = re.sub(r"(?m)^port = \d+$", "port = 0", conf)
        self.assertEqual(conf.count("port = 0"), 3)  # amqp, management, prometheus
        tls = f'\n[amqp.tls]\nenabled = true\nport = 0\ncert = "{cert}"\nkey = "{key}"\n'
        conf_path = os.path.join(run_dir, "warrend.toml")
        with open(conf_path, "w") as f:
            f.write(conf + tls)

        notes = Notifications(os.path.join(run_dir, "notify"))
        err_path = os.path.join(run_dir, "stderr")
        err = open(err_path, "wb")
        st = os.fstat(err.fileno())
        env = {**os.environ, "NOTIFY_SOCKET": notes.path, "WATCHDOG_USEC": "2000000",
               "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        warrend = self.in_root("/usr/sbin/warrend")

        # As the unit runs it: an unprivileged user (nobody, for the warren
        # user the root has but this machine need not), umask 0077.
        as_user = os.getuid() == 0
        nobody = 65534

        def give(path):  # the files of the run directory are that user's
            if as_user:
                for d, _, files in os.walk(path):
                    for f in [d, *(os.path.join(d, f) for f in files)]:
                        os.chown(f, nobody, nobody)

        def drop():
            if as_user:
                os.setgroups([])
                os.setgid(nobody)
                os.setuid(nobody)
            os.umask(0o077)

        if as_user:
            os.chmod(self.tmp, 0o711)
            os.chmod(notes.path, 0o666)
        give(run_dir)
        p = subprocess.Popen([warrend, "--config", conf_path], stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                             env=env, start_new_session=True, preexec_fn=drop)
        log = lambda: read(err_path)  # noqa: E731
        try:
            ready = notes.wait_for("READY=1", 30, p)
            t_ready = time.monotonic()
            status = notes.status(notes.messages[ready])
            m = re.search(r"AMQP on 127\.0\.0\.1:(\d+), AMQPS on 127\.0\.0\.1:(\d+), management on "
                          r"127\.0\.0\.1:(\d+)", status)
            self.assertIsNotNone(m, status)
            amqp, amqps, mgmt = (int(x) for x in m.groups())
            sock = f"{run_dir}/data/socketlock.sock"  # in data_dir, by default
            self.assertIn(f"socketlock on {sock}", status)
            if as_user:
                self.assertEqual(os.stat(f"{run_dir}/data/store").st_uid, nobody)
            # The socket is the group's too (socket_mode = "0660"); the rest
            # is warrend's alone.
            self.assertEqual(stat.S_IMODE(os.stat(sock).st_mode), 0o660)
            self.assertEqual(stat.S_IMODE(os.stat(sock + ".lock").st_mode), 0o600)
            self.assertEqual(stat.S_IMODE(os.stat(f"{run_dir}/data/definitions.json").st_mode), 0o600)
            self.assertEqual(stat.S_IMODE(os.stat(f"{run_dir}/data/store").st_mode), 0o700)
            # journald's format: a priority, no timestamp of its own.
            first = log().splitlines()[0]
            self.assertRegex(first, r"^<[0-7]>[^0-9]")

            # It serves: pika; the installed warrenctl; the installed socketlock.
            c = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", amqp))
            ch = c.channel()
            ch.queue_declare("installed")
            ch.basic_publish("", "installed", b"hello")
            ch.confirm_delivery()
            out = run([self.in_root("/usr/bin/warrenctl"), "--url", f"http://127.0.0.1:{mgmt}",
                       "list_queues", "name", "messages"])
            self.assertRegex(out, r"(?m)^installed\s+1\s*$")
            self.assertEqual(ch.basic_get("installed", auto_ack=True)[2], b"hello")
            c.close()
            out = run([self.in_root("/usr/bin/socketlock"), "run", "--write", "--socket", sock, "--", "echo",
                       "locked"])
            self.assertIn("locked", out)
            self.assertEqual(served_serial(amqps), serial1)

            # Reload: a certificate renewed in place, a log level, a port.
            _, _, serial2 = make_cert(run_dir, "server", "warren-2")
            self.assertNotEqual(serial1, serial2)
            with open(conf_path, "w") as f:
                f.write(conf.replace('level = "info"', 'level = "debug"').replace("#heartbeat = 60", "heartbeat = 30")
                        + tls)
            give(run_dir)
            n = len(notes.messages)
            p.send_signal(signal.SIGHUP)
            reloading = notes.wait_for("RELOADING=1", 15, p, after=n)
            ready = notes.wait_for("READY=1", 15, p, after=reloading)
            self.assertIn("MONOTONIC_USEC=", notes.messages[reloading])
            text = log()
            self.assertIn('log.level: "info" -> "debug": applied', text)
            self.assertIn("amqp.heartbeat: 60 -> 30: needs a restart", text)
            self.assertIn("AMQPS certificate and settings reloaded", text)
            self.assertEqual(served_serial(amqps), serial2)
            # A file that no longer parses: the running configuration stays.
            with open(conf_path, "a") as f:
                f.write("\nno_such_key = 1\n")
            n = len(notes.messages)
            p.send_signal(signal.SIGHUP)
            notes.wait_for("READY=1", 15, p, after=notes.wait_for("RELOADING=1", 15, p, after=n))
            self.assertIn("reload failed", log())
            self.assertIsNone(p.poll())

            # The watchdog: 2 s asked, a ping every 0.67 s all along, through
            # the connections and the reloads above (systemd would kill it
            # after a gap of 2 s).
            deadline = time.monotonic() + 10
            while len(notes.times_of("WATCHDOG=1")) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            pings = notes.times_of("WATCHDOG=1")
            gaps = [round(b - a, 2) for a, b in zip([t_ready] + pings, pings + [time.monotonic()])]
            self.assertGreaterEqual(len(pings), 3, f"{time.monotonic() - t_ready:.1f} s since READY: {gaps}")
            self.assertLess(max(gaps), 2, gaps)

            n = len(notes.messages)
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(30), 0, log())
            notes.wait_for("STOPPING=1", 5, None, after=n)
            self.assertIsNone(SANITIZER.search(log()), log())
        except BaseException:
            if p.poll() is None:
                p.kill()
                p.wait()
            print(f"--- warrend's log ---\n{log()[-6000:]}\n--- notifications ---\n{notes.messages}",
                  file=sys.stderr)
            raise
        finally:
            err.close()
            notes.close()

    # --- make deb's Depends: dpkg-shlibdeps ---------------------------------

    def test_shlibdeps(self):
        # make deb asks CPack for dpkg-shlibdeps (the Release package's
        # Depends, checked by hand: libc6, libcpp-httplib0.11, libfmt9,
        # libgcc-s1, libpcre2-8-0, libspdlog1.10-fmt9, libssl3, libstdc++6,
        # libsystemd0, libtomlplusplus3, zlib1g); here, that it is asked,
        # and what dpkg-shlibdeps finds for one installed program.
        self.assertIn('set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS "ON")', read(os.path.join(BUILD, "CPackConfig.cmake")))
        out, err = self.shlibdeps.communicate(timeout=120)
        self.assertEqual(self.shlibdeps.returncode, 0, err)
        depends = [d.strip().split(" ")[0] for d in out.strip().split("=", 1)[1].split(",")]
        for lib in ("libc6", "libstdc++6", "libcpp-httplib0.11"):
            self.assertIn(lib, depends)

    # --- libwarren-client-dev -----------------------------------------------

    def test_client_dev_package(self):
        # A program that uses the library, built against the installed
        # package twice, with pkg-config and with find_package, at once.
        usr = self.in_root("/usr")
        prog = os.path.join(self.tmp, "uses_client.cpp")
        with open(prog, "w") as f:
            f.write('#include "client/uri.hpp"\n#include <cstdio>\n'
                    "int main() { auto u = warren::client::parse_uri(\"amqp://u:p@h:5673/v\");\n"
                    "  std::printf(\"%s %d\\n\", u.host.c_str(), int(u.port)); }\n")
        san = "-fsanitize=address,undefined" if "asan" in run(["ldd", self.in_root("/usr/sbin/warrend")]) else ""
        proj = os.path.join(self.tmp, "cmake_consumer")
        os.makedirs(proj, exist_ok=True)
        with open(os.path.join(proj, "CMakeLists.txt"), "w") as f:
            f.write("cmake_minimum_required(VERSION 3.20)\nproject(consumer CXX)\nset(CMAKE_CXX_STANDARD 20)\n"
                    "find_package(WarrenClient REQUIRED)\n"
                    "get_target_property(inc Warren::client INTERFACE_INCLUDE_DIRECTORIES)\n"
                    'message(STATUS "warren-client ${WarrenClient_VERSION} includes ${inc}")\n'
                    f"add_executable(uses_client {prog})\n"
                    "target_link_libraries(uses_client PRIVATE Warren::client)\n")
        build = os.path.join(proj, "build")
        with_cmake = subprocess.Popen(
            ["sh", "-c", 'cmake -S "$1" -B "$2" -DCMAKE_PREFIX_PATH="$3" -DCMAKE_CXX_FLAGS="$4" '
             '-DCMAKE_EXE_LINKER_FLAGS="$4" && cmake --build "$2"', "sh", proj, build, usr, san],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            pcdir = os.path.dirname(run(["find", usr, "-name", "warren-client.pc"]).split()[0])
            env = {**os.environ, "PKG_CONFIG_PATH": pcdir}
            flags = run(["pkg-config", "--cflags", "--libs", "--static", "warren-client"], env=env).split()
            # Relocatable: the prefix is found from the .pc file's place.
            self.assertIn(f"-I{usr}/include/warren", [os.path.normpath(f) for f in flags])
            exe = os.path.join(self.tmp, "uses_client")
            run(["g++", "-std=c++20", *san.split(), prog, "-o", exe, *flags])
            self.assertEqual(run([exe]).strip(), "h 5673")
        finally:
            out, _ = with_cmake.communicate(timeout=120)
        self.assertEqual(with_cmake.returncode, 0, out)
        self.assertIn(f"includes {usr}/include/warren", out)
        self.assertEqual(run([os.path.join(build, "uses_client")]).strip(), "h 5673")


def load_tests(loader, standard_tests, pattern):
    """In this order: the packages before what installs them, the
    background dpkg-shlibdeps last."""
    order = ["test_staged_install", "test_packages", "test_chrootless_install", "test_man_pages", "test_unit_verifies",
             "test_service", "test_client_dev_package", "test_shlibdeps"]
    missing = set(loader.getTestCaseNames(InstallTest)) - set(order)
    assert not missing, f"add {missing} to load_tests' order"
    return unittest.TestSuite(InstallTest(name) for name in order)


if __name__ == "__main__":
    unittest.main()
