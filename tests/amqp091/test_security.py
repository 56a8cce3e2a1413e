"""Users, vhosts, permissions and limits against pika (docs/security.md):
a definitions file loaded at boot (RabbitMQ's format), refusals with
RabbitMQ's codes and texts, the login throttle, guest from a non-loopback
address, and the directory surviving a restart."""
import json
import os
import subprocess
import sys
import time
import unittest

import pika
import pika.exceptions as px

from amqp_harness import HERE, PYTHON, BrokerCase, Warrend

DEFINITIONS = {
    "users": [
        {"name": "app", "password": "app-pw", "tags": []},
        {"name": "reader", "password": "reader-pw", "tags": "monitoring"},
    ],
    "vhosts": [{"name": "/"}, {"name": "orders", "metadata": {"description": "the orders team"}}],
    "permissions": [
        {"user": "app", "vhost": "/", "configure": "^app\\.", "write": "^(app\\.|amq\\.default)$", "read": "^app\\."},
        {"user": "app", "vhost": "orders", "configure": ".*", "write": ".*", "read": ".*"},
        {"user": "reader", "vhost": "/", "configure": "", "write": "", "read": ".*"},
    ],
    "parameters": [{"vhost": "orders", "component": "vhost-limits", "name": "limits",
                    "value": {"max-connections": 2, "max-queues": 2}}],
}


class SecurityTest(BrokerCase):
    @classmethod
    def make_broker(cls):
        b = Warrend()
        path = os.path.join(b.dir, "definitions.json")
        with open(path, "w") as f:
            json.dump(DEFINITIONS, f)
        b.argv += ["--load-definitions", path]
        return b

    def as_user(self, user, password, vhost="/"):
        return self.connect(credentials=pika.PlainCredentials(user, password), virtual_host=vhost)

    def expect_connection_refused(self, code, text, user, password, vhost):
        # pika wraps a close during connection.open in ProbableAccessDeniedError.
        with self.assertRaises(px.AMQPConnectionError) as cm:
            self.as_user(user, password, vhost=vhost)
        self.assertIn(f"({code})", str(cm.exception))
        self.assertIn(text, str(cm.exception))

    def expect_channel_closed(self, code, text, fn):
        with self.assertRaises(px.ChannelClosedByBroker) as cm:
            fn()
        self.assertEqual(cm.exception.reply_code, code)
        self.assertEqual(cm.exception.reply_text, text)

    def test_wrong_password_is_refused_and_logged_without_it(self):
        with self.assertRaises(px.ProbableAuthenticationError) as cm:
            self.as_user("app", "not-the-password")
        self.assertIn("ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN", str(cm.exception))
        time.sleep(0.1)
        log = self.broker.stdout_text()
        self.assertIn("login refused: user 'app' from 127.0.0.1: invalid credentials", log)
        self.assertNotIn("not-the-password", log)
        self.assertNotIn("app-pw", log)

    def test_a_user_without_access_to_a_vhost_is_refused(self):
        self.expect_connection_refused(530, "NOT_ALLOWED - access to vhost 'orders' refused for user 'reader'",
                                       "reader", "reader-pw", "orders")
        self.expect_connection_refused(530, "NOT_ALLOWED - vhost no-such-vhost not found",
                                       "app", "app-pw", "no-such-vhost")

    def test_permissions_refuse_declare_publish_and_consume(self):
        ch = self.as_user("app", "app-pw").channel()
        ch.queue_declare("app.jobs")
        ch.basic_publish("", "app.jobs", b"allowed")  # amq.default is writable
        self.expect_channel_closed(
            403, "ACCESS_REFUSED - configure access to queue 'jobs' in vhost '/' refused for user 'app'",
            lambda: ch.queue_declare("jobs"))
        ch = self.as_user("app", "app-pw").channel()
        ch.confirm_delivery()
        self.expect_channel_closed(
            403, "ACCESS_REFUSED - write access to exchange 'amq.topic' in vhost '/' refused for user 'app'",
            lambda: ch.basic_publish("amq.topic", "k", b"refused"))
        reader = self.as_user("reader", "reader-pw").channel()
        self.assertEqual(reader.basic_get("app.jobs", auto_ack=True)[2], b"allowed")  # read: allowed
        self.expect_channel_closed(
            403, "ACCESS_REFUSED - configure access to queue 'app.jobs' in vhost '/' refused for user 'reader'",
            lambda: reader.queue_delete("app.jobs"))

    def test_vhost_limits(self):
        first = self.as_user("app", "app-pw", vhost="orders")
        self.as_user("app", "app-pw", vhost="orders")
        self.expect_connection_refused(
            530, "NOT_ALLOWED - access to vhost 'orders' refused for user 'app': connection limit (2) is reached",
            "app", "app-pw", "orders")
        ch = first.channel()
        ch.queue_declare("one")
        ch.queue_declare("two")
        self.expect_channel_closed(
            406, "PRECONDITION_FAILED - cannot declare queue 'three': queue limit in vhost 'orders' (2) is reached",
            lambda: ch.queue_declare("three"))

    def test_password_guessing_is_throttled(self):
        # 10 failures from one address, then one a second: the right
        # password is refused unchecked until a token comes back.
        start = time.monotonic()
        for _ in range(11):
            with self.assertRaises(px.ProbableAuthenticationError):
                self.as_user("reader", "guess")
        with self.assertRaises(px.ProbableAuthenticationError):
            self.as_user("reader", "reader-pw")
        self.assertLess(time.monotonic() - start, 1.0, "the burst should not be slowed; the test assumes it")
        self.assertIn("too many failed logins from this address", self.broker.stdout_text())
        time.sleep(1.2)
        self.as_user("reader", "reader-pw")


class DirectoryRestartTest(BrokerCase):
    """The directory is durable: what the definitions file created is there
    after a restart without it."""

    def test_users_and_vhosts_survive_a_restart(self):
        path = os.path.join(self.broker.dir, "definitions-once.json")
        with open(path, "w") as f:
            json.dump(DEFINITIONS, f)
        problem = self.broker.stop(keep_dir=True)
        self.assertIsNone(problem, problem)
        self.broker.argv += ["--load-definitions", path]
        self.broker.start()
        self.broker.stop(keep_dir=True)
        self.broker.argv = self.broker.argv[:-2]  # without the file this time
        self.broker.start()
        self.port = self.broker.port
        conn = pika.BlockingConnection(pika.ConnectionParameters(
            host=self.broker.host, port=self.broker.port, virtual_host="orders",
            credentials=pika.PlainCredentials("app", "app-pw"), connection_attempts=1))
        conn.channel().queue_declare("kept")
        conn.close()
        with open(os.path.join(self.broker.dir, "data", "definitions.json")) as f:
            saved = json.load(f)
        self.assertEqual(sorted(u["name"] for u in saved["users"]), ["app", "guest", "reader"])
        self.assertNotIn("app-pw", json.dumps(saved))


class RemoteGuestTest(unittest.TestCase):
    """guest from a non-loopback address is refused, as in RabbitMQ. The
    check runs in a network namespace of its own (unshare -rn) with a dummy
    interface, so it needs no network and works on any Linux with user
    namespaces (remote_guest.py)."""

    def test_guest_only_from_loopback(self):
        r = subprocess.run(["unshare", "-rn", PYTHON, os.path.join(HERE, "remote_guest.py")],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, f"{r.stdout}\n{r.stderr}")
        self.assertIn("guest refused from 10.199.0.1", r.stdout)
        self.assertIn("app logged in from 10.199.0.1", r.stdout)


if __name__ == "__main__":
    unittest.main()
