"""AMQPS: warrend's TLS listener, for both protocols, and AMQP 1.0's TLS
header on the plain port, with real clients: pika (ssl), Qpid Proton
(amqps:// with an SSLDomain; and its engine over a socket the test upgrades
with the 1.0 TLS header, since Proton does not send that header itself),
Python's ssl module and `openssl s_client`.

One broker for the class, verifying client certificates and requiring
them. Certificates are made here with the openssl CLI: a CA, a server
certificate for localhost/127.0.0.1, a client certificate with CN=guest
signed by the CA, and a self-signed CN=guest nobody trusts.

A client that stalls mid-handshake is dropped by the 10 s header timeout:
it connects in setUpClass and the last test waits for its end, so the
other tests run meanwhile.
"""
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

import pika
import proton
from proton import Message, SSLDomain
from proton.utils import BlockingConnection

from amqp10_harness import EXTERNAL_URL, Amqp10Case
from amqp_harness import BrokerCase
from pki import client_context, make_certificates

TLS_LISTENING = re.compile(r"AMQPS listening on ([0-9.]+):(\d+)")
HEADER_TIMEOUT = 10  # s: AmqpServer's kHeaderTimeout


@unittest.skipIf(EXTERNAL_URL, "starts its own warrend with TLS")
class TlsTest(Amqp10Case):
    @classmethod
    def setUpClass(cls):
        cls.pki_dir = tempfile.mkdtemp(prefix="wtls-", dir="/tmp")
        cls.pki = make_certificates(cls.pki_dir)
        cls.broker_args = ("--tls", "--tls-port", "0", "--tls-cert", cls.pki["server"],
                           "--tls-key", cls.pki["server_key"], "--tls-ca", cls.pki["ca"],
                           "--tls-verify-peer", "--tls-fail-if-no-peer-cert", "--cert-login")
        super().setUpClass()
        m = TLS_LISTENING.search(cls.broker.stdout_text())
        if not m:
            raise AssertionError(f"no 'AMQPS listening on' line\n{cls.broker.describe()}")
        cls.tls_port = int(m.group(2))
        # Half a ClientHello, then nothing: dropped after HEADER_TIMEOUT.
        cls.stalled = socket.create_connection(("127.0.0.1", cls.tls_port))
        cls.stalled.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        cls.stalled_at = time.monotonic()

    @classmethod
    def tearDownClass(cls):
        cls.stalled.close()
        super().tearDownClass()
        shutil.rmtree(cls.pki_dir, ignore_errors=True)

    # ------------------------------------------------------------ helpers

    def ssl_context(self, cert="client", key="client_key", **versions):
        return client_context(self.pki, cert, key, **versions)

    def pika_tls(self, **kw):
        params = pika.ConnectionParameters(
            host="127.0.0.1", port=self.tls_port, connection_attempts=1, socket_timeout=10,
            ssl_options=pika.SSLOptions(self.ssl_context(**kw), "localhost"))
        conn = pika.BlockingConnection(params)
        self._closers.append(lambda: conn.is_open and conn.close())
        return conn

    def ssl_domain(self, cert="client", key="client_key"):
        d = SSLDomain(SSLDomain.MODE_CLIENT)
        d.set_trusted_ca_db(self.pki["ca"])
        d.set_credentials(self.pki[cert], self.pki[key], None)
        d.set_peer_authentication(SSLDomain.VERIFY_PEER)
        return d

    def log_has(self, pattern, timeout=5):
        self.wait_for(lambda: re.search(pattern, self.broker.stdout_text()), timeout, f"log line /{pattern}/",
                      lambda: self.broker.stdout_text()[-3000:])

    def refused(self, ctx, port=None):
        """A raw TLS client with `ctx`: the handshake or the first read
        must fail, or the server must close. Returns what failed."""
        with socket.create_connection(("127.0.0.1", port or self.tls_port), timeout=10) as raw:
            try:
                with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                    s.sendall(b"AMQP\x00\x00\x09\x01")
                    data = s.recv(100)
                    self.assertEqual(data, b"", "a refused client read something")
                    return "EOF"
            except (ssl.SSLError, ConnectionError) as e:
                return str(e)

    def s_client(self, *args):
        r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{self.tls_port}", "-brief",
                            "-CAfile", self.pki["ca"], "-cert", self.pki["client"], "-key", self.pki["client_key"],
                            *args], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=15)
        return r.returncode, r.stdout + r.stderr

    # -------------------------------------------------------------- tests

    def test_amqp091_pika_over_tls(self):
        ch = self.pika_tls().channel()
        q = self.declare(ch)
        ch.confirm_delivery()
        bodies = [f"m{i}".encode() for i in range(200)] + [os.urandom(1 << 20)]
        for b in bodies:
            ch.basic_publish("", q, b)
        got = []
        for method, _props, body in ch.consume(q, auto_ack=True, inactivity_timeout=10):
            if method is None:
                break
            got.append(body)
            if len(got) == len(bodies):
                break
        ch.cancel()
        self.assertEqual(len(got), len(bodies))
        self.assertTrue(got == bodies, "bodies changed or reordered over TLS")

    def test_sasl_external_logs_in_as_the_certificates_cn(self):
        # pika: EXTERNAL with the CN=guest certificate, no password.
        params = pika.ConnectionParameters(
            host="127.0.0.1", port=self.tls_port, connection_attempts=1, socket_timeout=10,
            credentials=pika.credentials.ExternalCredentials(),
            ssl_options=pika.SSLOptions(self.ssl_context(), "localhost"))
        conn = pika.BlockingConnection(params)
        self._closers.append(lambda: conn.is_open and conn.close())
        conn.channel().queue_declare(self.qname())
        # A certificate the CA signed, for a CN that is no user: refused.
        params.ssl_options = pika.SSLOptions(self.ssl_context("stranger", "stranger_key"), "localhost")
        with self.assertRaises(pika.exceptions.ProbableAuthenticationError):
            pika.BlockingConnection(params)
        self.log_has(r"login refused: user 'stranger' from 127\.0\.0\.1: no such user")
        # Proton, asking for EXTERNAL only.
        q = self.qname()
        c = BlockingConnection(f"amqps://127.0.0.1:{self.tls_port}", ssl_domain=self.ssl_domain(), timeout=10,
                               allowed_mechs="EXTERNAL")
        self._closers.append(c.close)
        c.create_sender(q).send(Message(body="by certificate"))
        r = c.create_receiver(q)
        self.assertEqual(r.receive(timeout=10).body, "by certificate")
        r.accept()
        c.close()

    def test_amqp10_proton_amqps(self):
        q = self.qname()
        conn = BlockingConnection(f"amqps://127.0.0.1:{self.tls_port}", ssl_domain=self.ssl_domain(), timeout=10)
        self._closers.append(conn.close)
        snd = conn.create_sender(q)
        for i in range(50):
            snd.send(Message(body=f"amqps {i}"))
        rcv = conn.create_receiver(q, credit=50)
        got = []
        for _ in range(50):
            got.append(rcv.receive(timeout=10).body)
            rcv.accept()
        conn.close()
        self.assertEqual(got, [f"amqps {i}" for i in range(50)])

    def test_amqp10_tls_header_on_the_plain_port(self):
        """'AMQP' 2 1 0 0 on the plain port: the same header back, then TLS;
        Proton's engine then speaks SASL and AMQP 1.0 inside it and sends a
        message, which a plain-port receiver gets."""
        q = self.qname()
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        raw.sendall(b"AMQP\x02\x01\x00\x00")
        header = b""
        while len(header) < 8:
            chunk = raw.recv(8 - len(header))
            self.assertTrue(chunk, f"EOF after {header!r}")
            header += chunk
        self.assertEqual(header, b"AMQP\x02\x01\x00\x00")
        sock = self.ssl_context().wrap_socket(raw, server_hostname="localhost")
        self._closers.append(sock.close)
        self.assertEqual(sock.version(), "TLSv1.3")

        transport = proton.Transport()
        transport.sasl().allowed_mechs("ANONYMOUS")
        conn = proton.Connection()
        conn.container = "tls-header-test"
        transport.bind(conn)
        conn.open()
        session = conn.session()
        session.open()
        snd = session.sender("tls-header-sender")
        snd.target.address = q
        snd.open()
        self.pump(sock, transport, lambda: snd.credit > 0, "credit")
        dlv = snd.delivery("1")
        snd.send(Message(body="through the TLS header").encode())
        snd.advance()
        self.pump(sock, transport, lambda: dlv.remote_state == proton.Delivery.ACCEPTED, "accepted")
        conn.close()
        self.pump(sock, transport, lambda: conn.state & proton.Endpoint.REMOTE_CLOSED, "close")
        self.assertEqual(self.drain_bodies(q, expect=1), ["through the TLS header"])

    def pump(self, sock, transport, done, what, timeout=10):
        """Moves bytes between a socket and a Proton transport until done()."""
        deadline = time.monotonic() + timeout
        while not done():
            while transport.pending() > 0:
                out = transport.peek(transport.pending())
                sock.sendall(out)
                transport.pop(len(out))
            if done():
                return
            left = deadline - time.monotonic()
            if left <= 0:
                self.fail(f"timed out waiting for {what}")
            sock.settimeout(left)
            data = sock.recv(65536)
            if not data:
                self.fail(f"EOF while waiting for {what}")
            transport.push(data)

    def test_openssl_s_client_versions(self):
        rc, out = self.s_client()
        self.assertEqual(rc, 0, out)
        self.assertIn("Protocol version: TLSv1.3", out)
        rc, out = self.s_client("-tls1_2")
        self.assertEqual(rc, 0, out)
        self.assertIn("Protocol version: TLSv1.2", out)
        # The client really offers TLS 1.1 (its own security level allows it
        # at 0); the server's minimum is 1.2.
        rc, out = self.s_client("-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
        self.assertNotEqual(rc, 0, out)
        self.assertNotIn("CONNECTION ESTABLISHED", out)
        self.log_has(r"TLS handshake failed: unsupported protocol")

    def test_bad_clients_are_dropped_and_others_go_on(self):
        good = self.pika_tls().channel()
        q = self.declare(good)
        good.basic_publish("", q, b"before")
        # Garbage: an AMQP 0-9-1 header instead of a ClientHello.
        with socket.create_connection(("127.0.0.1", self.tls_port), timeout=10) as s:
            s.sendall(b"AMQP\x00\x00\x09\x01")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            self.assertFalse(data.startswith(b"AMQP"), data)
        self.log_has(r"TLS handshake failed: wrong version number")
        # A certificate the CA did not sign, and none at all.
        self.refused(self.ssl_context("rogue", "rogue_key"))
        self.log_has(r"TLS handshake failed: certificate verify failed \(self-signed certificate\)")
        self.refused(self.ssl_context(None))
        self.log_has(r"TLS handshake failed: peer did not return a certificate")
        # pika with the untrusted certificate.
        with self.assertRaises((pika.exceptions.AMQPConnectionError, ssl.SSLError, ConnectionError)):
            self.pika_tls(cert="rogue", key="rogue_key")
        good.basic_publish("", q, b"after")
        self.assertEqual(self.get_bodies(good, q), ["before", "after"])
        self.assertTrue(self.broker.alive())

    def test_zz_stalled_handshake_is_dropped(self):
        """Runs last: the half ClientHello of setUpClass is dropped by the
        header timeout, with a log line, while the other tests ran."""
        self.stalled.settimeout(max(0.1, self.stalled_at + HEADER_TIMEOUT + 5 - time.monotonic()))
        try:
            data = self.stalled.recv(100)
        except socket.timeout:
            self.fail("a stalled TLS handshake was not dropped")
        self.assertEqual(data, b"")
        self.assertGreater(time.monotonic() - self.stalled_at, HEADER_TIMEOUT - 1)
        self.log_has(r"TLS handshake not finished within 10 s: closed")

    # pika helpers of the 0-9-1 tests' broker class
    declare = BrokerCase.declare
    get_bodies = BrokerCase.get_bodies


if __name__ == "__main__":
    unittest.main()
