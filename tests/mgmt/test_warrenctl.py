"""warrenctl against a live warrend's management API: rabbitmqctl's verbs,
columns, formatters and exit codes, checked against what pika can then
do and what the API says (src/ctl's unit tests use a fake API; this one
uses the real one)."""
import json
import os
import subprocess
import tempfile
import unittest

import pika
import pika.exceptions as px

from mgmt_harness import MgmtCase, q

WARRENCTL = os.environ.get("WARREN_WARRENCTL", "warrenctl")


class WarrenctlTest(MgmtCase):
    def ctl(self, *args, expect=0):
        r = subprocess.run([WARRENCTL, "--url", f"http://127.0.0.1:{self.broker.mgmt_port}", *args],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, expect, f"warrenctl {' '.join(args)}:\n{r.stdout}\n{r.stderr}")
        return r.stdout

    def rows(self, *args):
        """A listing's table rows (after rabbitmqctl's banner and header), split on tabs."""
        lines = self.ctl(*args).splitlines()
        return [line.split("\t") for line in lines[2:]]

    def test_users_vhosts_permissions_then_pika(self):
        self.ctl("add_vhost", "ctl")
        self.ctl("add_user", "carol", "carol-pw")
        self.ctl("set_user_tags", "carol", "management")
        self.ctl("set_permissions", "-p", "ctl", "carol", "^carol\\.", ".*", ".*")
        users = json.loads(self.ctl("list_users", "--formatter", "json"))
        self.assertIn({"user": "carol", "tags": ["management"]}, users)
        self.assertIn(["carol", "^carol\\.", ".*", ".*"], self.rows("list_permissions", "-p", "ctl"))
        creds = pika.PlainCredentials("carol", "carol-pw")
        params = pika.ConnectionParameters("127.0.0.1", self.port, "ctl", creds, connection_attempts=1)
        conn = pika.BlockingConnection(params)
        ch = conn.channel()
        ch.queue_declare("carol.work")
        with self.assertRaises(px.ChannelClosedByBroker):
            conn.channel().queue_declare("other")  # configure is ^carol\.
        ch.confirm_delivery()
        for body in (b"a", b"b", b"c"):
            ch.basic_publish("", "carol.work", body)
        self.assertIn(["carol.work", "3", "0"], self.rows("list_queues", "-p", "ctl", "name", "messages", "consumers"))
        ch.basic_consume("carol.work", lambda *a: None, consumer_tag="ctl-tag")
        consumers = json.loads(self.ctl("list_consumers", "-p", "ctl", "--formatter", "json"))
        self.assertEqual([c["consumer_tag"] for c in consumers], ["ctl-tag"])
        self.assertIn("carol", [c["user"] for c in json.loads(self.ctl("list_connections", "--formatter", "json"))])
        # A new password: the old one is refused from now on.
        self.ctl("change_password", "carol", "new-pw")
        with self.assertRaises(px.ProbableAuthenticationError):
            pika.BlockingConnection(params)
        conn.close()
        self.ctl("delete_user", "carol")
        self.ctl("delete_user", "carol", expect=65)  # gone: the API's 404, a data error
        self.ctl("delete_vhost", "ctl")
        self.assertNotIn(["ctl"], self.rows("list_vhosts"))

    def test_policy_exchange_binding_and_definitions(self):
        ch = self.channel()
        ch.exchange_declare("ctl.events", "topic")
        ch.queue_declare("ctl.capped")
        ch.queue_bind("ctl.capped", "ctl.events", "order.*")
        self.assertIn(["ctl.events", "topic"], self.rows("list_exchanges"))
        self.assertIn(["ctl.events", "exchange", "ctl.capped", "queue", "order.*", "[]"], self.rows("list_bindings"))
        self.ctl("set_policy", "cap", "^ctl\\.capped$", '{"max-length": 1}', "--apply-to", "queues", "--priority", "3")
        self.assertIn(["/", "cap", "^ctl\\.capped$", "queues", '{"max-length":1}', "3"], self.rows("list_policies"))
        ch.confirm_delivery()
        for key in ("order.1", "order.2"):
            ch.basic_publish("ctl.events", key, b"x")
        self.assertEqual(self.api.get(f"/api/queues/%2F/{q('ctl.capped')}")["messages"], 1)  # the policy holds
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "defs.json")
            self.ctl("export_definitions", path)
            with open(path) as f:
                defs = json.load(f)
            self.assertIn("cap", [p["name"] for p in defs["policies"]])
            self.ctl("clear_policy", "cap")
            self.assertEqual(self.api.get("/api/policies"), [])
            self.ctl("import_definitions", path)
            self.assertEqual([p["name"] for p in self.api.get("/api/policies")], ["cap"])
        self.ctl("clear_policy", "cap")

    def test_close_connection_status_and_exit_codes(self):
        conn = self.connect(client_properties={"connection_name": "to-close"})
        name = next(c["name"] for c in self.api.get("/api/connections")
                    if c.get("client_properties", {}).get("connection_name") == "to-close")
        self.ctl("close_connection", name, "maintenance")
        with self.assertRaises(px.ConnectionClosedByBroker) as closed:
            conn.process_data_events(time_limit=5)
            conn.process_data_events(time_limit=5)
        self.assertEqual(closed.exception.reply_code, 320)
        status = self.ctl("status")
        self.assertIn("Product: Warren", status)
        self.ctl("no_such_verb", expect=64)
        self.ctl("add_user", "only-a-name", expect=64)
        r = subprocess.run([WARRENCTL, "--url", "http://127.0.0.1:1", "status"], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 69, r.stderr)  # unreachable
        r = subprocess.run([WARRENCTL, "--url", f"http://127.0.0.1:{self.broker.mgmt_port}", "--password", "wrong",
                            "list_queues"], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("401", r.stderr)


if __name__ == "__main__":
    unittest.main()
