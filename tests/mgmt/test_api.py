"""The management HTTP API and the Prometheus endpoint against a real
warrend, driven with urllib as a tool would, and pika for the traffic
(README "Operations"): authentication and tag rules, users / vhosts /
permissions that change what pika can do, a connection closed by DELETE,
exact queue counters, publish / get / purge, definitions exported and
imported into a fresh warrend and back, a RabbitMQ 3.10 export, health
checks, and /metrics read by a strict parser and checked against the API."""
import base64
import copy
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

import pika
import pika.exceptions as px

from mgmt_harness import Api, MgmtCase, MgmtWarrend, parse_exposition, q
from pki import client_context, make_certificates


def rabbit_hash(password, salt=b"\x90\x8d\xa9\x0c"):
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt ++ sha256(salt ++ password))."""
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


# A RabbitMQ 3.10 export (rabbitmqctl export_definitions / GET
# /api/definitions), written out in its shape: what a tool moving from
# RabbitMQ brings.
RABBITMQ_EXPORT = {
    "rabbit_version": "3.10.7",
    "rabbitmq_version": "3.10.7",
    "product_name": "RabbitMQ",
    "product_version": "3.10.7",
    "users": [
        {"name": "ops", "password_hash": rabbit_hash("ops-pw"), "hashing_algorithm": "rabbit_password_hashing_sha256",
         "tags": ["administrator"], "limits": {}},
        {"name": "shop", "password_hash": rabbit_hash("shop-pw"),
         "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": [], "limits": {}},
    ],
    "vhosts": [{"name": "shop", "description": "the shop", "tags": [], "metadata": {"description": "the shop",
                                                                                  "tags": []}}],
    "permissions": [
        {"user": "shop", "vhost": "shop", "configure": ".*", "write": ".*", "read": ".*"},
        {"user": "ops", "vhost": "shop", "configure": ".*", "write": ".*", "read": ".*"},
    ],
    "topic_permissions": [],
    "parameters": [{"value": {"max-queues": 50}, "vhost": "shop", "component": "vhost-limits", "name": "limits"}],
    "global_parameters": [{"name": "internal_cluster_id", "value": "rabbitmq-cluster-id-abc"}],
    "policies": [{"vhost": "shop", "name": "dead-letters", "pattern": "^orders$", "apply-to": "queues",
                  "definition": {"dead-letter-exchange": "amq.fanout"}, "priority": 0}],
    "queues": [
        {"name": "orders", "vhost": "shop", "durable": True, "auto_delete": False,
         "arguments": {"x-queue-type": "classic", "x-max-length": 1000}},
        {"name": "orders.dead", "vhost": "shop", "durable": True, "auto_delete": False, "arguments": {}},
    ],
    "exchanges": [
        {"name": "shop.events", "vhost": "shop", "type": "topic", "durable": True, "auto_delete": False,
         "internal": False, "arguments": {}},
    ],
    "bindings": [
        {"source": "shop.events", "vhost": "shop", "destination": "orders", "destination_type": "queue",
         "routing_key": "order.*", "arguments": {}},
        {"source": "amq.fanout", "vhost": "shop", "destination": "orders.dead", "destination_type": "queue",
         "routing_key": "", "arguments": {}},
    ],
}


def normalised(defs):
    """The sections a round trip must keep, sorted (order carries no meaning)."""
    out = {}
    for key in ("users", "vhosts", "permissions", "parameters", "policies", "queues", "exchanges", "bindings"):
        out[key] = sorted((json.dumps(e, sort_keys=True) for e in defs.get(key, [])))
    return out


class ApiTest(MgmtCase):
    # ------------------------------------------------------- authentication

    def test_unauthenticated_and_wrong_password_get_401(self):
        status, body, headers = self.api.call("GET", "/api/overview", auth=False)
        self.assertEqual(status, 401)
        self.assertEqual(body["error"], "not_authorised")
        self.assertIn("Basic", headers.get("WWW-Authenticate", ""))
        status, body, _ = Api(self.broker.mgmt_port, "guest", "nope").call("GET", "/api/overview")
        self.assertEqual((status, body), (401, {"error": "not_authorised", "reason": "Login failed"}))
        status, body, _ = Api(self.broker.mgmt_port, "nobody", "x").call("GET", "/api/whoami")
        self.assertEqual(status, 401)

    def test_tag_rules(self):
        for user, tags in (("mon", "monitoring"), ("mgr", "management"), ("plain", "")):
            self.assertIn(self.api.put(f"/api/users/{user}", {"password": f"{user}-pw", "tags": tags}), (201, 204))
        self.assertEqual(self.api.put("/api/vhosts/tagged"), 201)
        self.assertEqual(self.api.put("/api/permissions/tagged/mgr", {"configure": ".*", "write": ".*", "read": ".*"}),
                         201)
        mon, mgr, plain = (Api(self.broker.mgmt_port, u, f"{u}-pw") for u in ("mon", "mgr", "plain"))
        # No management tag: no API at all.
        status, body, _ = plain.call("GET", "/api/overview")
        self.assertEqual((status, body["reason"]), (401, "Not management user"))
        # monitoring: sees everything, changes nothing.
        self.assertEqual(mon.get("/api/whoami"), {"name": "mon", "tags": ["monitoring"]})
        self.assertTrue(mon.get("/api/nodes"))
        self.assertIn("/", [v["name"] for v in mon.get("/api/vhosts")])
        status, body, _ = mon.call("PUT", "/api/users/intruder", {"password": "x", "tags": "administrator"})
        self.assertEqual((status, body["error"]), (401, "not_authorised"))
        self.assertEqual(mon.call("GET", "/api/users")[0], 401)
        self.assertEqual(mon.call("DELETE", "/api/vhosts/tagged")[0], 401)
        # management: only the vhosts it has permissions in; no node, no users.
        self.assertEqual([v["name"] for v in mgr.get("/api/vhosts")], ["tagged"])
        self.assertEqual(mgr.call("GET", "/api/nodes")[0], 401)
        self.assertEqual(mgr.call("GET", "/api/queues/%2F")[0], 401)
        self.assertEqual(mgr.put("/api/queues/tagged/mine", {"durable": False}), 201)
        self.assertEqual([x["name"] for x in mgr.get("/api/queues")], ["mine"])
        # Its declares go through its permissions, as over AMQP.
        self.assertEqual(self.api.put("/api/permissions/tagged/mgr", {"configure": "^x", "write": ".*", "read": ".*"}),
                         204)
        status, body, _ = mgr.call("PUT", "/api/queues/tagged/other", {})
        self.assertEqual(status, 401)
        self.assertIn("ACCESS_REFUSED - configure access to queue 'other' in vhost 'tagged' refused for user 'mgr'",
                      body["reason"])

    # --------------------------------------- users, vhosts and permissions

    def test_vhost_user_permission_round_trip_changes_what_pika_can_do(self):
        api = self.api
        self.assertEqual(api.put("/api/vhosts/rt", {"description": "round trip", "tags": "a,b"}), 201)
        self.assertEqual(api.put("/api/vhosts/rt", {"description": "round trip"}), 204)
        v = api.get("/api/vhosts/rt")
        self.assertEqual((v["name"], v["description"], v["messages"]), ("rt", "round trip", 0))
        self.assertEqual(api.put("/api/users/alice", {"password": "alice-pw", "tags": ""}), 201)
        self.assertEqual(api.get("/api/users/alice")["hashing_algorithm"], "rabbit_password_hashing_sha256")
        creds = pika.PlainCredentials("alice", "alice-pw")
        with self.assertRaises(px.AMQPConnectionError):  # no permissions in rt yet
            self.connect(credentials=creds, virtual_host="rt")
        self.assertEqual(api.put("/api/permissions/rt/alice", {"configure": "^a\\.", "write": ".*", "read": ".*"}), 201)
        self.assertEqual(api.get("/api/permissions/rt/alice")["configure"], "^a\\.")
        ch = self.connect(credentials=creds, virtual_host="rt").channel()
        ch.queue_declare("a.q")
        with self.assertRaises(px.ChannelClosedByBroker) as cm:
            ch.queue_declare("b.q")
        self.assertEqual(cm.exception.reply_code, 403)
        # The queue alice declared is there for the API, in its vhost.
        self.assertEqual(api.get("/api/queues/rt/a.q")["vhost"], "rt")
        # Permissions gone: the next connection is refused.
        self.assertEqual(api.delete("/api/permissions/rt/alice"), 204)
        with self.assertRaises(px.AMQPConnectionError):
            self.connect(credentials=creds, virtual_host="rt")
        # Password changed through the API: the old one no longer logs in.
        api.put("/api/permissions/rt/alice", {"configure": ".*", "write": ".*", "read": ".*"})
        self.assertEqual(api.put("/api/users/alice", {"password": "new-pw", "tags": ""}), 204)
        with self.assertRaises(px.AMQPConnectionError):
            self.connect(credentials=creds, virtual_host="rt")
        self.connect(credentials=pika.PlainCredentials("alice", "new-pw"), virtual_host="rt").close()
        # vhost limits through the API apply to AMQP at once.
        self.assertEqual(api.put("/api/vhost-limits/rt/max-queues", {"value": 1}), 204)
        self.assertEqual(api.get("/api/vhost-limits/rt"), [{"vhost": "rt", "value": {"max-queues": 1}}])
        ch = self.connect(credentials=pika.PlainCredentials("alice", "new-pw"), virtual_host="rt").channel()
        with self.assertRaises(px.ChannelClosedByBroker) as cm:
            ch.queue_declare("a.second")
        self.assertEqual(cm.exception.reply_code, 406)
        self.assertEqual(api.delete("/api/vhost-limits/rt/max-queues"), 204)
        # The vhost deleted: its connections closed, its queues gone.
        self.assertEqual(api.delete("/api/vhosts/rt"), 204)
        self.assertEqual(api.call("GET", "/api/vhosts/rt")[0], 404)
        self.assertEqual(api.call("GET", "/api/queues/rt/a.q")[0], 404)
        self.assertEqual(api.delete("/api/users/alice"), 204)
        self.assertEqual(api.call("GET", "/api/users/alice")[0], 404)
        self.assertEqual(api.delete("/api/users/alice"), 404)

    # ------------------------------------------------------------ connections

    def test_connection_closed_by_delete_is_320_for_pika(self):
        conn = self.connect(client_properties={"connection_name": "to-be-closed"})
        ch = conn.channel()
        ch.basic_qos(prefetch_count=7)
        qn = self.declare(ch)
        ch.basic_consume(qn, lambda *a: None)
        mine = [c for c in self.api.get("/api/connections")
                if c["client_properties"].get("connection_name") == "to-be-closed"]
        self.assertEqual(len(mine), 1)
        c = mine[0]
        self.assertEqual((c["protocol"], c["user"], c["vhost"], c["state"], c["channels"]),
                         ("AMQP 0-9-1", "guest", "/", "running", 1))
        self.assertEqual(c["name"], f"{c['peer_host']}:{c['peer_port']} -> {c['host']}:{c['port']}")
        self.assertGreater(c["recv_oct"], 0)
        self.assertGreater(c["send_oct"], 0)
        self.assertEqual(self.api.get("/api/connections/" + q(c["name"]))["name"], c["name"])
        chans = self.api.get("/api/connections/" + q(c["name"]) + "/channels")
        self.assertEqual((chans[0]["number"], chans[0]["prefetch_count"], chans[0]["consumer_count"]), (1, 7, 1))
        consumers = [k for k in self.api.get("/api/consumers/%2F") if k["queue"]["name"] == qn]
        self.assertEqual(len(consumers), 1)
        self.assertEqual(consumers[0]["channel_details"]["connection_name"], c["name"])
        self.assertTrue(any(x["name"] == c["name"] for x in self.api.get("/api/vhosts/%2F/connections")))
        status = self.api.delete("/api/connections/" + q(c["name"]), headers={"X-Reason": "maintenance window"})
        self.assertEqual(status, 204)
        with self.assertRaises(px.ConnectionClosedByBroker) as cm:
            self.pump(conn, 2)
        self.assertEqual(cm.exception.reply_code, 320)
        self.assertEqual(cm.exception.reply_text, "CONNECTION_FORCED - maintenance window")
        self.assertEqual(self.api.delete("/api/connections/" + q(c["name"])), 404)
        # And RabbitMQ's default text without X-Reason.
        conn2 = self.connect(client_properties={"connection_name": "second"})
        name = [x["name"] for x in self.api.get("/api/connections")
                if x["client_properties"].get("connection_name") == "second"][0]
        self.assertEqual(self.api.delete("/api/connections/" + q(name)), 204)
        with self.assertRaises(px.ConnectionClosedByBroker) as cm:
            self.pump(conn2, 2)
        self.assertEqual(cm.exception.reply_text, "CONNECTION_FORCED - Closed via management plugin")

    def test_amqp10_connection_session_and_link_show_as_rabbitmq_shows_them(self):
        from proton import Message
        from proton.utils import BlockingConnection
        qn = self.qname()
        conn = BlockingConnection(f"amqp://guest:guest@127.0.0.1:{self.port}")
        self._closers.append(conn.close)
        conn.create_sender(qn).send(Message(body="hi"))  # settled once accepted: a confirm
        receiver = conn.create_receiver(qn, credit=5)
        self.assertEqual(receiver.receive(timeout=5).body, "hi")
        mine = [c for c in self.api.get("/api/connections") if c["protocol"] == "AMQP 1.0"]
        self.assertEqual(len(mine), 1)
        self.assertEqual((mine[0]["state"], mine[0]["auth_mechanism"], mine[0]["user"]), ("running", "PLAIN", "guest"))
        self.assertIn("container_id", mine[0]["client_properties"])
        sessions = self.api.get("/api/connections/" + q(mine[0]["name"]) + "/channels")
        self.assertEqual(sum(ch["messages_unacknowledged"] for ch in sessions), 1)  # received, not yet accepted
        links = [k for k in self.api.get("/api/consumers") if k["queue"]["name"] == qn]
        self.assertEqual(len(links), 1)
        self.assertTrue(links[0]["ack_required"])
        stats = self.api.get(f"/api/queues/%2F/{q(qn)}")["message_stats"]
        self.assertEqual((stats["publish"], stats["deliver"]), (1, 1))
        receiver.accept()
        conn.close()

    # ---------------------------------------------------------------- queues

    def test_queue_counters_are_exact_right_after_publishes_and_acks(self):
        qn = self.qname()
        self.assertEqual(self.api.put(f"/api/queues/%2F/{q(qn)}", {"durable": False, "arguments": {"x-max-priority": 3}}),
                         201)
        self.assertEqual(self.api.put(f"/api/queues/%2F/{q(qn)}", {"durable": False,
                                                                   "arguments": {"x-max-priority": 3}}), 204)
        status, body, _ = self.api.call("PUT", f"/api/queues/%2F/{q(qn)}", {"durable": True})
        self.assertEqual(status, 400)
        self.assertIn("inequivalent arg 'durable'", body["reason"])
        ch = self.channel()
        ch.confirm_delivery()
        for i in range(10):
            ch.basic_publish("", qn, f"m{i}".encode())
        info = self.api.get(f"/api/queues/%2F/{q(qn)}")
        self.assertEqual((info["messages"], info["messages_ready"], info["messages_unacknowledged"]), (10, 10, 0))
        self.assertEqual(info["message_stats"]["publish"], 10)
        self.assertEqual(info["arguments"], {"x-max-priority": 3})
        self.assertEqual((info["type"], info["state"], info["durable"]), ("classic", "running", False))
        ch.basic_qos(prefetch_count=4)
        got = []
        ch.basic_consume(qn, lambda c, m, p, b: got.append(m.delivery_tag))
        while len(got) < 4:
            ch.connection.process_data_events(time_limit=0.1)
        for tag in got[:3]:
            ch.basic_ack(tag)
        self.count(ch, qn)  # a round trip: the acks before it are done, and 3 more delivered
        info = self.api.get(f"/api/queues/%2F/{q(qn)}")
        self.assertEqual((info["messages_ready"], info["messages_unacknowledged"], info["consumers"]), (3, 4, 1))
        stats = info["message_stats"]
        self.assertEqual((stats["publish"], stats["deliver"], stats["ack"], stats["deliver_get"], stats["redeliver"]),
                         (10, 7, 3, 7, 0))
        self.assertIn("rate", stats["publish_details"])
        # A second read a moment later has a publish rate over the interval.
        time.sleep(1.1)
        for i in range(5):
            ch.basic_publish("", qn, b"more")
        self.count(ch, qn)
        stats = self.api.get(f"/api/queues/%2F/{q(qn)}")["message_stats"]
        self.assertEqual(stats["publish"], 15)
        self.assertGreater(stats["publish_details"]["rate"], 0)

    def test_exchange_binding_publish_get_purge(self):
        api, xn, qn = self.api, self.qname("x"), self.qname()
        self.assertEqual(api.put(f"/api/exchanges/%2F/{q(xn)}", {"type": "topic", "durable": False}), 201)
        self.assertEqual(api.get(f"/api/exchanges/%2F/{q(xn)}")["type"], "topic")
        self.assertEqual(api.put(f"/api/queues/%2F/{q(qn)}", {"durable": False}), 201)
        status, _, headers = api.post(f"/api/bindings/%2F/e/{q(xn)}/q/{q(qn)}", {"routing_key": "a.*"})
        self.assertEqual(status, 201)
        self.assertEqual(headers.get("Location"), "a.%2A")
        bs = api.get(f"/api/bindings/%2F/e/{q(xn)}/q/{q(qn)}")
        self.assertEqual([(b["routing_key"], b["properties_key"], b["destination_type"]) for b in bs],
                         [("a.*", "a.%2A", "queue")])
        self.assertEqual([b["source"] for b in api.get(f"/api/queues/%2F/{q(qn)}/bindings")], ["", xn])
        status, body, _ = api.post(f"/api/exchanges/%2F/{q(xn)}/publish",
                                   {"routing_key": "a.b", "payload": "hello", "payload_encoding": "string",
                                    "properties": {"delivery_mode": 2, "headers": {"h": 1}}})
        self.assertEqual((status, body), (200, {"routed": True}))
        status, body, _ = api.post(f"/api/exchanges/%2F/{q(xn)}/publish",
                                   {"routing_key": "nope", "payload": "", "properties": {}})
        self.assertEqual(body, {"routed": False})
        api.post(f"/api/exchanges/%2F/amq.default/publish", {"routing_key": qn, "payload": base64.b64encode(
            b"\xff\x00").decode(), "payload_encoding": "base64", "properties": {}})
        status, msgs, _ = api.post(f"/api/queues/%2F/{q(qn)}/get",
                                   {"count": 5, "ackmode": "ack_requeue_true", "encoding": "auto"})
        self.assertEqual(status, 200)
        self.assertEqual([(m["payload"], m["payload_encoding"]) for m in msgs],
                         [("hello", "string"), ("/wA=", "base64")])
        self.assertEqual(msgs[0]["properties"], {"delivery_mode": 2, "headers": {"h": 1}})
        self.assertEqual((msgs[0]["routing_key"], msgs[0]["exchange"], msgs[0]["redelivered"]), ("a.b", xn, False))
        # Requeued: both still there, now redelivered.
        _, again, _ = api.post(f"/api/queues/%2F/{q(qn)}/get", {"count": 1, "ackmode": "ack_requeue_false"})
        self.assertTrue(again[0]["redelivered"])
        self.assertEqual(api.get(f"/api/queues/%2F/{q(qn)}")["messages"], 1)
        self.assertEqual(api.delete(f"/api/queues/%2F/{q(qn)}/contents"), 204)
        self.assertEqual(api.get(f"/api/queues/%2F/{q(qn)}")["messages"], 0)
        self.assertEqual(api.delete(f"/api/bindings/%2F/e/{q(xn)}/q/{q(qn)}/a.%252A"), 204)
        self.assertEqual(api.get(f"/api/bindings/%2F/e/{q(xn)}/q/{q(qn)}"), [])
        self.assertEqual(api.delete(f"/api/exchanges/%2F/{q(xn)}"), 204)
        self.assertEqual(api.call("GET", f"/api/exchanges/%2F/{q(xn)}")[0], 404)
        self.assertEqual(api.delete(f"/api/queues/%2F/{q(qn)}"), 204)
        self.assertEqual(api.delete(f"/api/queues/%2F/{q(qn)}"), 404)
        self.assertEqual(api.call("PATCH", "/api/overview", {})[0], 405)

    def test_policies_apply_at_once_and_follow_rabbitmq_rules(self):
        api = self.api
        conn = self.connect()
        ch = conn.channel()
        ch.confirm_delivery()
        ch.queue_declare("pol.capped")
        ch.queue_declare("other.q")
        limit = {"pattern": "^pol\\.", "definition": {"max-length": 2, "overflow": "reject-publish"},
                 "apply-to": "queues", "priority": 1}
        self.assertEqual(api.put("/api/policies/%2F/cap", limit), 201)
        self.assertEqual(api.put("/api/policies/%2F/cap", limit), 204)  # replaced, not created
        got = api.get("/api/policies/%2F/cap")
        self.assertEqual(got, {"vhost": "/", "name": "cap", "pattern": "^pol\\.", "apply-to": "queues",
                               "definition": {"max-length": 2, "overflow": "reject-publish"}, "priority": 1})
        self.assertIn(got, api.get("/api/policies"))
        self.assertEqual(api.get("/api/policies/%2F"), [got])
        queue = api.get("/api/queues/%2F/pol.capped")
        self.assertEqual((queue["policy"], queue["effective_policy_definition"]),
                         ("cap", {"max-length": 2, "overflow": "reject-publish"}))
        self.assertIsNone(api.get("/api/queues/%2F/other.q")["policy"])
        # Applied to the live queue at once: the third publish is refused.
        ch.basic_publish("", "pol.capped", b"1")
        ch.basic_publish("", "pol.capped", b"2")
        with self.assertRaises(pika.exceptions.NackError):
            ch.basic_publish("", "pol.capped", b"3")
        for i in range(3):
            ch.basic_publish("", "other.q", b"x")
        self.assertEqual(ch.queue_declare("other.q", passive=True).method.message_count, 3)
        # As RabbitMQ: max-priority cannot be set by a policy; bad bodies are 400.
        status, body, _ = api.call("PUT", "/api/policies/%2F/prio", {"pattern": ".*", "definition": {"max-priority": 5}})
        self.assertEqual(status, 400)
        self.assertIn("are not recognised policy settings", body["reason"])
        status, body, _ = api.call("PUT", "/api/policies/%2F/nopattern", {"definition": {}})
        self.assertEqual((status, body["reason"]), (400, "key_missing: pattern"))
        self.assertEqual(api.call("PUT", "/api/policies/nowhere/p", limit)[0], 404)
        # Policymakers may; management users may not.
        api.put("/api/users/pm", {"password": "pm-pw", "tags": "policymaker"})
        api.put("/api/users/mg", {"password": "mg-pw", "tags": "management"})
        api.put("/api/permissions/%2F/pm", {"configure": ".*", "write": ".*", "read": ".*"})
        api.put("/api/permissions/%2F/mg", {"configure": ".*", "write": ".*", "read": ".*"})
        pm, mg = Api(self.broker.mgmt_port, "pm", "pm-pw"), Api(self.broker.mgmt_port, "mg", "mg-pw")
        self.assertEqual(mg.call("GET", "/api/policies")[0], 401)
        self.assertEqual(mg.put("/api/policies/%2F/x", {"pattern": "^x", "definition": {}}), 401)
        self.assertEqual(pm.put("/api/policies/%2F/x", {"pattern": "^x$", "definition": {"message-ttl": 1000}}), 201)
        self.assertEqual(pm.delete("/api/policies/%2F/x"), 204)
        # Cleared: the queue is unbounded again.
        self.assertEqual(api.delete("/api/policies/%2F/cap"), 204)
        self.assertEqual(api.delete("/api/policies/%2F/cap"), 404)
        ch.basic_publish("", "pol.capped", b"3")
        self.assertEqual(ch.queue_declare("pol.capped", passive=True).method.message_count, 3)
        self.assertIsNone(api.get("/api/queues/%2F/pol.capped")["policy"])
        # What Warren has no such thing as: runtime parameters.
        self.assertEqual(api.get("/api/operator-policies"), [])
        self.assertEqual(api.call("PUT", "/api/parameters/federation-upstream/%2F/u", {"value": {}})[0], 405)
        conn.close()

    # ------------------------------------------------- overview and health

    def test_overview_nodes_and_health_checks(self):
        o = self.api.get("/api/overview")
        for k in ("object_totals", "queue_totals", "message_stats", "node", "product_name", "product_version",
                  "rabbitmq_version", "listeners", "exchange_types", "management_version"):
            self.assertIn(k, o)
        self.assertEqual(o["product_name"], "Warren")
        ports = {(listener["protocol"], listener["port"]) for listener in o["listeners"]}
        self.assertIn(("amqp", self.port), ports)
        self.assertIn(("http", self.broker.mgmt_port), ports)
        nodes = self.api.get("/api/nodes")
        self.assertEqual(nodes[0]["name"], o["node"])
        self.assertFalse(nodes[0]["mem_alarm"])
        self.assertGreater(nodes[0]["mem_used"], 0)
        self.assertEqual(self.api.get("/api/health/checks/alarms"), {"status": "ok"})
        self.assertEqual(self.api.get("/api/health/checks/local-alarms"), {"status": "ok"})
        self.assertEqual(self.api.get(f"/api/health/checks/port-listener/{self.port}")["status"], "ok")
        status, body, _ = self.api.call("GET", "/api/health/checks/port-listener/1")
        self.assertEqual((status, body["status"]), (503, "failed"))
        self.assertEqual(self.api.get("/api/health/checks/virtual-hosts"), {"status": "ok"})
        self.assertEqual(self.api.get("/api/aliveness-test/%2F"), {"status": "ok"})
        self.assertEqual(self.api.call("GET", "/api/aliveness-test/missing")[0], 404)
        self.assertEqual(self.api.get("/api/whoami"), {"name": "guest", "tags": ["administrator"]})
        # List parameters: sort, columns, pagination.
        page = self.api.get("/api/queues?page=1&page_size=1&columns=name,messages")
        self.assertEqual(page["page_size"], 1)
        self.assertLessEqual(len(page["items"]), 1)
        if page["items"]:
            self.assertEqual(set(page["items"][0]), {"name", "messages"})

    # ------------------------------------------------------------- Prometheus

    def scrape(self, path="/metrics"):
        api = Api(self.broker.prom_port)
        status, text, headers = api.call("GET", path, auth=False, raw=True)
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/plain; version=0.0.4"))
        return parse_exposition(text)

    def test_prometheus_text_matches_the_api(self):
        qn = self.qname()
        lock = self.qname("lock")
        ch = self.channel()
        ch.queue_declare(qn)
        ch.queue_declare(lock, arguments={"x-queue-type": "lock"})
        ch.confirm_delivery()
        for _ in range(3):
            ch.basic_publish("", qn, b"x")
        ch.basic_qos(prefetch_count=1)
        held = []
        ch.basic_consume(lock, lambda c, m, p, b: held.append(m))
        while not held:
            ch.connection.process_data_events(time_limit=0.1)
        waiter = self.channel()
        waiter.basic_qos(prefetch_count=1)
        waiter.basic_consume(lock, lambda *a: None)
        self.count(waiter, lock)
        values, types = self.scrape()
        overview = self.api.get("/api/overview")
        queues = self.api.get("/api/queues")
        self.assertEqual(values["rabbitmq_queues"], len(queues))
        self.assertEqual(values["rabbitmq_connections"], overview["object_totals"]["connections"])
        self.assertEqual(values["rabbitmq_channels"], overview["object_totals"]["channels"])
        self.assertEqual(values["rabbitmq_queue_messages_ready"], overview["queue_totals"]["messages_ready"])
        self.assertEqual(values["rabbitmq_global_messages_received_total"], overview["message_stats"]["publish"])
        self.assertEqual(values["rabbitmq_global_messages_confirmed_total"], overview["message_stats"]["confirm"])
        self.assertEqual(values["rabbitmq_global_messages_acknowledged_total"], overview["message_stats"]["ack"])
        self.assertEqual(types["rabbitmq_global_messages_delivered_total"], "counter")
        self.assertGreater(values["rabbitmq_process_resident_memory_bytes"], 1 << 20)
        self.assertGreater(values["rabbitmq_disk_space_available_bytes"], 0)
        self.assertEqual(values["rabbitmq_alarms_memory_used_watermark"], 0)
        labels = f'{{vhost="/",queue="{lock}"}}'
        self.assertEqual(values["warren_lock_holders" + labels], 1)
        self.assertEqual(values["warren_lock_waiters" + labels], 1)
        self.assertNotIn(f'rabbitmq_queue_messages_ready{{vhost="/",queue="{qn}"}}', values)
        per, _ = self.scrape("/metrics/per-object")
        self.assertEqual(per[f'rabbitmq_queue_messages_ready{{vhost="/",queue="{qn}"}}'], 3)
        self.assertEqual(per[f'rabbitmq_queue_messages{{vhost="/",queue="{qn}"}}'],
                         self.api.get(f"/api/queues/%2F/{q(qn)}")["messages"])
        self.assertEqual(per[f'rabbitmq_queue_consumers{{vhost="/",queue="{lock}"}}'], 2)
        # A confirmed persistent publish into a durable queue was synced:
        # the store's sync histogram counted it.
        count = 'warren_store_sync_seconds_count{vhost="/"}'
        before = values.get(count, 0)
        dq = self.qname("durable")
        ch.queue_declare(dq, durable=True)
        ch.basic_publish("", dq, b"d", pika.BasicProperties(delivery_mode=2))
        values, types = self.scrape()
        self.assertEqual(types["warren_store_sync_seconds"], "histogram")
        self.assertGreater(values[count], before)
        self.assertEqual(values['warren_store_sync_seconds_bucket{vhost="/",le="+Inf"}'], values[count])
        self.assertGreater(values['warren_store_sync_seconds_sum{vhost="/"}'], 0)
        # This warrend is the socketlock primary: a client shows.
        self.assertEqual(values["warren_socketlock_clients"], 0)
        self.assertGreaterEqual(values["warren_socketlock_epoch"], 1)
        client = socket.socket(socket.AF_UNIX)
        client.connect(os.path.join(self.broker.dir, "sl.sock"))
        try:
            self.wait_for(lambda: self.scrape()[0]["warren_socketlock_clients"] == 1, 5, "a socketlock client")
        finally:
            client.close()


class DefinitionsTest(MgmtCase):
    def test_export_import_into_a_fresh_warrend_and_back(self):
        api = self.api
        api.put("/api/vhosts/defs", {"description": "for the round trip"})
        api.put("/api/users/bob", {"password": "bob-pw", "tags": "management,policymaker"})
        api.put("/api/permissions/defs/bob", {"configure": "^bob", "write": ".*", "read": ""})
        api.put("/api/vhost-limits/defs/max-connections", {"value": 5})
        api.put("/api/exchanges/defs/events", {"type": "headers", "durable": True, "arguments": {"alternate-exchange": "alt"}})
        api.put("/api/exchanges/defs/alt", {"type": "fanout", "durable": True})
        api.put("/api/queues/defs/work", {"durable": True, "arguments": {"x-message-ttl": 60000,
                                                                         "x-dead-letter-exchange": "alt"}})
        api.put("/api/queues/defs/transient", {"durable": False})
        self.assertEqual(api.put("/api/policies/defs/ttl", {"pattern": "^work$", "definition": {"message-ttl": 5000},
                                                             "priority": 2, "apply-to": "queues"}), 201)
        api.post("/api/bindings/defs/e/events/q/work", {"routing_key": "", "arguments": {"x-match": "any", "k": "v"}})
        api.post("/api/bindings/defs/e/events/e/alt", {"routing_key": "r"})
        api.post("/api/bindings/defs/e/amq.topic/q/work", {"routing_key": "#"})
        exported = api.get("/api/definitions")
        self.assertEqual(exported["rabbitmq_version"], "3.10.0")
        self.assertNotIn("transient", [x["name"] for x in exported["queues"]])  # durable objects only
        self.assertEqual([p for p in exported["policies"] if p["vhost"] == "defs"], [{"vhost": "defs", "name": "ttl", "pattern": "^work$",
                                                 "apply-to": "queues", "definition": {"message-ttl": 5000},
                                                 "priority": 2}])
        self.assertIn({"source": "events", "vhost": "defs", "destination": "work", "destination_type": "queue",
                       "routing_key": "", "arguments": {"x-match": "any", "k": "v"}}, exported["bindings"])
        fresh = MgmtWarrend().start()
        try:
            other = Api(fresh.mgmt_port)
            status, body, _ = other.post("/api/definitions", exported)
            self.assertEqual(status, 204, body)
            again = other.get("/api/definitions")
            self.assertEqual(normalised(again), normalised(exported))
            # bob logs in there with his password (the hash came along) and
            # his permissions hold.
            conn = pika.BlockingConnection(pika.ConnectionParameters(
                "127.0.0.1", fresh.port, "defs", pika.PlainCredentials("bob", "bob-pw"), connection_attempts=1))
            ch = conn.channel()
            ch.queue_declare("bob.q")
            with self.assertRaises(px.ChannelClosedByBroker):
                ch.queue_declare("work", passive=False, durable=True)
            conn.close()
            # And back: the fresh one's export into the first, unchanged.
            status, _, _ = api.post("/api/definitions", again)
            self.assertEqual(status, 204)
            self.assertEqual(normalised(api.get("/api/definitions")), normalised(exported))
        finally:
            problem = fresh.stop()
            if problem:
                raise AssertionError(problem)

    def test_a_rabbitmq_3_10_export_imports(self):
        status, body, _ = self.api.post("/api/definitions", RABBITMQ_EXPORT)
        self.assertEqual(status, 204, body)
        self.assertEqual(self.api.get("/api/queues/shop/orders")["arguments"],
                         {"x-queue-type": "classic", "x-max-length": 1000})
        self.assertEqual(self.api.get("/api/exchanges/shop/shop.events")["type"], "topic")
        self.assertEqual(self.api.get("/api/queues/shop/orders")["policy"], "dead-letters")
        self.assertEqual(self.api.get("/api/vhost-limits/shop"), [{"vhost": "shop", "value": {"max-queues": 50}}])
        ops = Api(self.broker.mgmt_port, "ops", "ops-pw")
        self.assertEqual(ops.get("/api/whoami")["tags"], ["administrator"])
        conn = pika.BlockingConnection(pika.ConnectionParameters(
            "127.0.0.1", self.port, "shop", pika.PlainCredentials("shop", "shop-pw"), connection_attempts=1))
        ch = conn.channel()
        ch.confirm_delivery()
        ch.basic_publish("shop.events", "order.new", b"o1")
        ch.basic_publish("amq.fanout", "", b"dead")
        self.assertEqual(ch.queue_declare("orders", passive=True).method.message_count, 1)
        self.assertEqual(ch.queue_declare("orders.dead", passive=True).method.message_count, 1)
        conn.close()
        # Bad input changes nothing: a permission for a user that is not there.
        bad = copy.deepcopy(RABBITMQ_EXPORT)
        bad["vhosts"].append({"name": "never"})
        bad["permissions"].append({"user": "ghost", "vhost": "shop", "configure": "", "write": "", "read": ""})
        status, body, _ = self.api.post("/api/definitions", bad)
        self.assertEqual(status, 400)
        self.assertEqual(self.api.call("GET", "/api/vhosts/never")[0], 404)
        bad = copy.deepcopy(RABBITMQ_EXPORT)
        bad["vhosts"].append({"name": "never"})
        bad["policies"].append({"vhost": "shop", "name": "prio", "pattern": ".*", "definition": {"max-priority": 3}})
        status, body, _ = self.api.post("/api/definitions", bad)
        self.assertEqual(status, 400)
        self.assertIn("are not recognised policy settings", body["reason"])
        self.assertEqual(self.api.call("GET", "/api/vhosts/never")[0], 404)
        status, body, _ = self.api.call("POST", "/api/definitions", b"{not json")
        self.assertEqual((status, body["error"]), (400, "bad_request"))


class HttpsTest(MgmtCase):
    """[management.tls] and [prometheus.tls]: HTTPS beside HTTP, set up as
    AMQPS is (versions, certificates, client verification)."""

    @classmethod
    def setUpClass(cls):
        cls.pki_dir = tempfile.mkdtemp(prefix="wmtls-", dir="/tmp")
        cls.pki = make_certificates(cls.pki_dir)
        conf = os.path.join(cls.pki_dir, "warrend.toml")
        with open(conf, "w") as f:
            f.write(f"""
[management.tls]
enabled = true
port = 0
cert = "{cls.pki['server']}"
key = "{cls.pki['server_key']}"
ca = "{cls.pki['ca']}"
min_version = "1.3"
verify_peer = true
fail_if_no_peer_cert = true

[prometheus.tls]
enabled = true
port = 0
cert = "{cls.pki['server']}"
key = "{cls.pki['server_key']}"
""")
        cls.broker_args = ("--config", conf)
        super().setUpClass()
        deadline = time.monotonic() + 10
        while True:  # logged after the HTTP listeners' lines MgmtWarrend waited for
            text = cls.broker.stdout_text()
            api = re.search(r"management HTTPS API listening on [0-9.]+:(\d+)", text)
            prom = re.search(r"Prometheus metrics \(HTTPS\) listening on [0-9.]+:(\d+)", text)
            if api and prom:
                break
            if time.monotonic() > deadline or not cls.broker.alive():
                raise AssertionError(f"no HTTPS listening lines\n{cls.broker.describe()}")
            time.sleep(0.02)
        cls.https_port, cls.prom_https_port = int(api.group(1)), int(prom.group(1))

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.pki_dir, ignore_errors=True)

    def context(self, cert="client", key="client_key", **versions):
        return client_context(self.pki, cert, key, **versions)

    def fetch(self, port, path, ctx, auth=True):
        req = urllib.request.Request(f"https://localhost:{port}{path}")
        if auth:
            req.add_header("Authorization", "Basic " + base64.b64encode(b"guest:guest").decode())
        with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
            return r.status, r.read().decode()

    def test_the_api_over_https_with_a_client_certificate(self):
        status, body = self.fetch(self.https_port, "/api/overview", self.context())
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["product_name"], "Warren")
        # The same API as on HTTP: a queue made there is seen here.
        self.api.put("/api/queues/%2F/over-https", {"durable": False})
        _, body = self.fetch(self.https_port, "/api/queues/%2F/over-https", self.context())
        self.assertEqual(json.loads(body)["name"], "over-https")

    def test_refusals(self):
        for why, ctx in (("no client certificate", self.context(cert=None)),
                         ("an untrusted client certificate", self.context("rogue", "rogue_key")),
                         ("TLS 1.2, below min_version 1.3",
                          self.context(maximum_version=ssl.TLSVersion.TLSv1_2))):
            with self.subTest(why), self.assertRaises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
                self.fetch(self.https_port, "/api/overview", ctx)
        # A client that does not trust the server's CA refuses it.
        with self.assertRaises(urllib.error.URLError):
            self.fetch(self.https_port, "/api/overview", ssl.create_default_context())
        # Plain HTTP on the HTTPS port gets no answer.
        with self.assertRaises((urllib.error.URLError, ConnectionError, http.client.HTTPException)):
            urllib.request.urlopen(f"http://127.0.0.1:{self.https_port}/api/overview", timeout=10).read()
        self.assertTrue(self.broker.alive())

    def test_prometheus_over_https(self):
        status, text = self.fetch(self.prom_https_port, "/metrics", self.context(cert=None), auth=False)
        self.assertEqual(status, 200)
        series, _ = parse_exposition(text)
        self.assertIn("rabbitmq_connections", series)


class LatencyTest(MgmtCase):
    """/api/queues with 10,000 queues: the issue's bound is 200 ms, for the
    Release build. The sanitized Debug build of make test is far slower at
    encoding JSON, so here the bound is WARREN_QUEUES_BOUND_MS (default
    3000); the Release figure is in the README."""

    def test_list_10000_queues(self):
        n = 10000
        defs = {"queues": [{"name": f"lat.{i:05d}", "vhost": "/", "durable": False, "auto_delete": False,
                            "arguments": {}} for i in range(n)]}
        status, body, _ = self.api.post("/api/definitions", defs)
        self.assertEqual(status, 204, body)
        times, loop = [], []
        for _ in range(5):
            t0 = time.monotonic()  # until the whole body is read; parsing it is the client's time
            status, text, headers = self.api.call("GET", "/api/queues", raw=True)
            times.append(time.monotonic() - t0)
            loop.append(int(headers["X-Warren-Loop-Microseconds"]))
            self.assertEqual(status, 200)
        loop.sort()
        queues = json.loads(text)
        self.assertGreaterEqual(len(queues), n)
        times.sort()
        bound = float(os.environ.get("WARREN_QUEUES_BOUND_MS", "3000")) / 1000
        sys.stderr.write(f"[/api/queues with {len(queues)} queues: median {times[2] * 1000:.0f} ms, "
                         f"min {times[0] * 1000:.0f} ms; the broker's loop spent a median {loop[2] / 1000:.1f} ms on it]\n")
        self.assertLess(times[2], bound)
        # A page (the console's queues page) is cut before its JSON is made,
        # and answers as the full listing's slice would (sort=name takes the
        # general path: same items).
        page_path = "/api/queues?page=2&page_size=100&name=lat.01&columns=name,messages,message_stats.publish_details"
        t0 = time.monotonic()
        page = self.api.get(page_path)
        page_ms = (time.monotonic() - t0) * 1000
        self.assertEqual((page["filtered_count"], page["item_count"], page["page"], page["page_count"]), (1000, 100, 2, 10))
        self.assertGreaterEqual(page["total_count"], n)  # before the name filter, as RabbitMQ counts
        self.assertEqual([x["name"] for x in page["items"]], [f"lat.{i:05d}" for i in range(1100, 1200)])
        self.assertEqual(page["items"][0], {"name": "lat.01100", "messages": 0,
                                            "message_stats": {"publish_details": {"rate": 0.0}}})
        self.assertEqual(self.api.get(page_path + "&sort=name"), page)
        self.assertEqual(self.api.call("GET", "/api/queues?page=11&page_size=100&name=lat.01")[0], 400)
        sys.stderr.write(f"[a page of 100 of {n} queues: {page_ms:.0f} ms]\n")
        self.assertLess(page_ms, times[2] * 1000)
        # Prometheus's aggregated scrape walks the same queues: cheap too.
        t0 = time.monotonic()
        status, text, _ = Api(self.broker.prom_port).call("GET", "/metrics", auth=False, raw=True)
        scrape = time.monotonic() - t0
        sys.stderr.write(f"[/metrics with {n} queues: {scrape * 1000:.0f} ms]\n")
        self.assertEqual(parse_exposition(text)[0]["rabbitmq_queues"], len(queues))


if __name__ == "__main__":
    unittest.main()
