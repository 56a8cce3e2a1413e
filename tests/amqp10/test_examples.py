"""The Proton examples Debian ships (libqpid-proton11-dev-examples,
/usr/share/proton/examples/), run unchanged with their documented arguments
pointed at the broker: C++ and C built here from their sources, Python run
with /usr/bin/python3.

Not run: the direct_* / *_direct examples and broker.{c,cpp,py} are
themselves servers (a client connects to them), so a broker has no part in
them; the tx_*, selected_recv, db_*, *_tornado, colour_send, queue_browser,
scheduled_send, service_bus, ssl*, reconnect and multithreaded examples
need transactions, selectors, TLS, tornado or a particular service, or
show nothing the examples below do not.
"""
import os
import shutil
import subprocess
import unittest

import proton_examples
from amqp10_harness import PYTHON, Amqp10Case, differs_on_rabbitmq

PY_EXAMPLES = os.path.join(proton_examples.EXAMPLES, "python")
REQUESTS = ["Twas brillig, and the slithy toves", "Did gire and gymble in the wabe.",
            "All mimsy were the borogroves,", "And the mome raths outgrabe."]


class CppExamplesTest(Amqp10Case):

    @classmethod
    def setUpClass(cls):
        cls.bin = proton_examples.build("cpp", ["simple_send", "simple_recv", "helloworld", "client", "server",
                                                "simple_connect", "multithreaded_client",
                                                "multithreaded_client_flow_control"])
        super().setUpClass()

    def addr(self, node):
        return f"{self.host}:{self.port}/{node}"  # a URL whose path is the node: host:port//queue/x

    def check_send_recv(self, node, n=100):
        out = self.run_client([self.bin["simple_send"], "-a", self.addr(node), "-m", str(n)])
        self.assertEqual(out, "all messages confirmed\n")
        out = self.run_client([self.bin["simple_recv"], "-a", self.addr(node), "-m", str(n)])
        self.assertEqual(out.splitlines(), [f'{{"sequence"={i}}}' for i in range(1, n + 1)])

    def test_simple_send_simple_recv_queue_address(self):
        self.check_send_recv(f"/queue/{self.qname()}")

    def test_simple_send_simple_recv_bare_name(self):
        q = self.qname()
        self.check_send_recv(q, 10)
        ch = self.pika_channel()
        self.assertEqual(self.pika_count(ch, q)[0], 0, "the bare name is a queue, created on first use")

    def test_helloworld(self):
        out = self.run_client([self.bin["helloworld"], f"//{self.host}:{self.port}", f"/queue/{self.qname()}"])
        self.assertEqual(out, "Hello World!\n")

    def test_simple_connect_sasl(self):
        hostport = f"{self.host}:{self.port}"
        connect = self.bin["simple_connect"]
        self.run_client([connect, "-a", hostport])  # no SASL: the AMQP 0 1 0 0 header
        self.run_client([connect, "-a", hostport, "-s"])  # SASL, no user: ANONYMOUS
        self.run_client([connect, "-a", hostport, "-u", "guest", "-p", "guest", "-i", "-m", "PLAIN"])
        self.run_client([connect, "-a", hostport, "-u", "guest", "-p", "wrong", "-i", "-m", "PLAIN"], expect_rc=1)
        self.assertIn("amqp:unauthorized-access", self.last_stderr)

    def test_simple_send_simple_recv_sasl_plain(self):
        node = f"/queue/{self.qname()}"
        auth = ["-u", "guest", "-p", "guest"]
        self.assertEqual(self.run_client([self.bin["simple_send"], "-a", self.addr(node), "-m", "5", *auth]),
                         "all messages confirmed\n")
        out = self.run_client([self.bin["simple_recv"], "-a", self.addr(node), "-m", "5", *auth])
        self.assertEqual(len(out.splitlines()), 5)

    def test_multithreaded_client(self):
        url, node = f"//{self.host}:{self.port}", f"/queue/{self.qname()}"
        out = self.run_client([self.bin["multithreaded_client"], url, node, "50"]).splitlines()
        self.assertEqual(out[-1], "50 messages sent and received")
        self.assertEqual(sorted(l for l in out if l.startswith("received ")),
                         sorted(f'received "{i}"' for i in range(1, 51)))

    def test_multithreaded_client_flow_control(self):
        url, node = f"//{self.host}:{self.port}", f"/queue/{self.qname()}"
        out = self.run_client([self.bin["multithreaded_client_flow_control"], url, node, "100", "4"])
        self.assertEqual(out.splitlines()[-1], "400 messages sent and received")

    @differs_on_rabbitmq("no dynamic nodes: the client's dynamic receiver gets amqp:not-implemented")
    def test_client_server_dynamic_reply_queue(self):
        node = f"/queue/{self.qname()}"
        server = self.spawn([self.bin["server"], f"//{self.host}:{self.port}", node])
        self.wait_for(lambda: server.has("Server connected to"), 10, "the server to connect", server.describe)
        out = self.run_client([self.bin["client"], "-a", self.addr(node)])
        self.assertEqual(out.splitlines(), [f"{r} => {r.upper()}" for r in REQUESTS])
        self.wait_for(lambda: len(server.matching("Received ")) == 4, 5, "4 requests at the server", server.describe)
        self.assertEqual(server.poll(), None, f"the server died\n{server.describe()}")


class CExamplesTest(Amqp10Case):

    @classmethod
    def setUpClass(cls):
        cls.bin = proton_examples.build("c", ["send", "receive"])
        super().setUpClass()

    def test_send_receive(self):
        node = f"/queue/{self.qname()}"
        out = self.run_client([self.bin["send"], self.host, str(self.port), node, "50"])
        self.assertEqual(out, "50 messages sent and acknowledged\n")
        out = self.run_client([self.bin["receive"], self.host, str(self.port), node, "50"])
        self.assertEqual(out.splitlines(), [f'{{"sequence"={i}}}' for i in range(1, 51)] + ["50 messages received"])

    def test_defaults_count(self):
        # Without a count both send (and receive) 10, the documented default.
        node = f"/queue/{self.qname()}"
        self.assertEqual(self.run_client([self.bin["send"], self.host, str(self.port), node]),
                         "10 messages sent and acknowledged\n")
        out = self.run_client([self.bin["receive"], self.host, str(self.port), node])
        self.assertEqual(out.splitlines()[-1], "10 messages received")


class PythonExamplesTest(Amqp10Case):

    def example(self, name):
        return [PYTHON, os.path.join(PY_EXAMPLES, name)]

    def addr(self, node):
        return f"{self.host}:{self.port}/{node}"

    def test_simple_send_simple_recv(self):
        node = f"/queue/{self.qname()}"
        self.assertEqual(self.run_client([*self.example("simple_send.py"), "-a", self.addr(node), "-m", "100"]),
                         "all messages confirmed\n")
        out = self.run_client([*self.example("simple_recv.py"), "-a", self.addr(node), "-m", "100"])
        self.assertEqual(out.splitlines(), [f"{{'sequence': {i}}}" for i in range(1, 101)])

    def run_in_netns(self, argv):
        """Runs a client that only knows localhost:5672 (see netns_forward.py)."""
        if not shutil.which("unshare") or subprocess.run(["unshare", "-rn", "true"]).returncode != 0:
            self.skipTest("no unprivileged network namespaces (unshare -rn) here")
        from netns_forward import UnixToTcp
        path = f"/tmp/warren-amqp10-fwd-{os.getpid()}.sock"
        fwd = UnixToTcp(path, self.host, self.port).start()
        self.addCleanup(fwd.stop)
        return self.run_client(["unshare", "-rn", PYTHON, os.path.join(os.path.dirname(__file__), "netns_forward.py"),
                                path, "--", *argv])

    def test_helloworld_on_localhost_5672(self):
        self.assertEqual(self.run_in_netns(self.example("helloworld.py")), "Hello World!\n")

    def test_helloworld_blocking_on_localhost_5672(self):
        self.assertEqual(self.run_in_netns(self.example("helloworld_blocking.py")), "Hello World!\n")

    @differs_on_rabbitmq("no dynamic nodes (client.py) nor anonymous relay (server.py's null target)")
    def test_client_server_dynamic_reply_and_anonymous_relay(self):
        node = f"/queue/{self.qname()}"
        server = self.spawn([*self.example("server.py"), "-a", self.addr(node)])
        self.wait_for(lambda: server.has("Listening on"), 10, "the server to start", server.describe)
        out = self.run_client([*self.example("client.py"), "-a", self.addr(node)])
        self.assertEqual(out.splitlines(), [f"{r} => {r.upper()}" for r in REQUESTS])
        out = self.run_client([*self.example("sync_client.py"), "-a", self.addr(node)])
        self.assertEqual(out.splitlines(), [f"{r} => {r.upper()}" for r in REQUESTS])
        self.assertEqual(server.poll(), None, f"the server died\n{server.describe()}")


if __name__ == "__main__":
    unittest.main()
