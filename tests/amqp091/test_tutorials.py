"""RabbitMQ tutorials 1-6 (tutorial_apps.py) against warrend: producers and
consumers are separate pika processes, as in the tutorials."""
import unittest

import pika

from amqp_harness import BrokerCase

APP = "tutorial_apps.py"


class TutorialsTest(BrokerCase):

    def start(self, *args):
        c = self.py(APP, *args)
        self.wait_for(lambda: c.has("ready"), 15, f"{args} to consume", c.describe)
        return c

    def stop(self, *clients):
        for c in clients:
            self.assertEqual(c.finish(), 0, c.describe())

    def received(self, c, prefix=" [x] "):
        return [l[len(prefix):] for l in c.matching(prefix)]

    def test_1_hello_world(self):
        # One message waits in the queue before anyone consumes, one arrives live.
        self.run_py(APP, "send")
        receiver = self.start("receive")
        self.run_py(APP, "send")
        self.wait_for(lambda: len(self.received(receiver)) == 2, 10, "2 messages", receiver.describe)
        self.stop(receiver)
        self.assertEqual(self.received(receiver), ["Received Hello World!"] * 2)
        self.assertEqual(self.count(self.channel(), "hello"), (0, 0))

    def test_2_work_queues(self):
        w1 = self.start("worker")
        w2 = self.start("worker")
        long_task = "long" + "." * 20  # 2 s of work
        short = [f"t{i}." for i in range(1, 6)]
        self.run_py(APP, "new_task", long_task, *short)
        done = lambda: self.received(w1, " [x] Done ") + self.received(w2, " [x] Done ")
        self.wait_for(lambda: len(done()) == 6, 15, "6 tasks done", lambda: w1.describe() + w2.describe())
        # Persistent messages keep delivery_mode 2 on the way.
        self.assertTrue(all(d.endswith("delivery_mode=2") for d in done()), done())
        tasks = [d.split()[0] for d in done()]
        self.assertEqual(sorted(tasks), sorted([long_task] + short), "each task done exactly once")
        # prefetch_count=1 (fair dispatch): while one worker is busy with the
        # long task, every short one goes to the other worker.
        busy, free = (w1, w2) if any(long_task in d for d in self.received(w1, " [x] Done ")) else (w2, w1)
        self.assertEqual([d.split()[0] for d in self.received(busy, " [x] Done ")], [long_task],
                         "the worker holding an unacked message got another one despite prefetch 1")
        self.assertEqual([d.split()[0] for d in self.received(free, " [x] Done ")], short)
        self.stop(w1, w2)
        ch = self.channel()
        # The workers' processes are gone; the broker sees their sockets close soon after.
        self.wait_for(lambda: self.count(ch, "task_queue") == (0, 0), 5, "an empty task_queue with no consumers",
                      lambda: str(self.count(ch, "task_queue")))
        # The queue is durable: redeclaring it transient is refused as RabbitMQ does.
        self.assertChannelClosedBy(
            406, "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'task_queue' in vhost '/': "
            "received 'false' but current is 'true'", ch.queue_declare, "task_queue", durable=False)

    def test_3_publish_subscribe(self):
        r1 = self.start("receive_logs")
        r2 = self.start("receive_logs")
        queues = [c.matching("queue ")[0].split()[1] for c in (r1, r2)]
        for q in queues:
            self.assertRegex(q, r"^amq\.gen-[A-Za-z0-9_-]{22}$")
        self.assertNotEqual(queues[0], queues[1])
        self.run_py(APP, "emit_log", "info: first")
        self.run_py(APP, "emit_log", "warning: second")
        for r in (r1, r2):
            self.wait_for(lambda: len(self.received(r)) == 2, 10, "both logs", r.describe)
        self.stop(r1, r2)
        for r in (r1, r2):
            self.assertEqual(self.received(r), ["info: first", "warning: second"])
        # Exclusive queues go with their connection.
        for q in queues:
            self.assertChannelClosedBy(404, f"NOT_FOUND - no queue '{q}' in vhost '/'",
                                       self.channel().queue_declare, q, passive=True)

    def test_4_routing(self):
        errors = self.start("receive_logs_direct", "error")
        everything = self.start("receive_logs_direct", "info", "warning", "error")
        for severity in ("info", "warning", "error", "debug"):
            self.run_py(APP, "emit_log_direct", severity, f"a {severity} message")
        self.wait_for(lambda: len(self.received(everything)) == 3, 10, "3 logs", everything.describe)
        self.wait_for(lambda: len(self.received(errors)) == 1, 10, "the error", errors.describe)
        self.stop(errors, everything)
        self.assertEqual(self.received(errors), ["error:a error message"])
        self.assertEqual(self.received(everything),
                         ["info:a info message", "warning:a warning message", "error:a error message"])

    def test_5_topics(self):
        bindings = {"Q1": ["*.orange.*"], "Q2": ["*.*.rabbit", "lazy.#"], "all": ["#"], "kern": ["kern.*"]}
        receivers = {k: self.start("receive_logs_topic", *b) for k, b in bindings.items()}
        keys = ["quick.orange.rabbit", "lazy.orange.elephant", "quick.orange.fox", "lazy.brown.fox",
                "lazy.pink.rabbit", "quick.brown.fox", "orange", "quick.orange.male.rabbit",
                "lazy.orange.male.rabbit", "lazy", "kern.critical", "kern"]
        for k in keys:
            self.run_py(APP, "emit_log_topic", k, "m")
        expected = {
            "Q1": ["quick.orange.rabbit", "lazy.orange.elephant", "quick.orange.fox"],
            # lazy.pink.rabbit matches both bindings and arrives once.
            "Q2": ["quick.orange.rabbit", "lazy.orange.elephant", "lazy.brown.fox", "lazy.pink.rabbit",
                   "lazy.orange.male.rabbit", "lazy"],
            "all": keys,
            "kern": ["kern.critical"],
        }
        # "#" sees everything, so once it has the last key the others have theirs.
        self.wait_for(lambda: len(self.received(receivers["all"])) == len(keys), 10, "all keys",
                      receivers["all"].describe)
        self.stop(*receivers.values())
        for name, c in receivers.items():
            self.assertEqual(self.received(c), [f"{k}:m" for k in expected[name]], f"receiver {name} {bindings[name]}")

    def test_6_rpc(self):
        server = self.start("rpc_server")
        c1 = self.py(APP, "rpc_client", "0", "1", "2", "10", "20")
        c2 = self.py(APP, "rpc_client", "5", "15", "3")
        for c in (c1, c2):
            self.assertEqual(c.wait(30), 0, c.describe())
            c.finish()
        got = {tuple(c.matching(" [.] Got ")) for c in (c1, c2)}
        self.assertEqual(got, {(" [.] Got fib(0) = 0", " [.] Got fib(1) = 1", " [.] Got fib(2) = 1",
                                " [.] Got fib(10) = 55", " [.] Got fib(20) = 6765"),
                               (" [.] Got fib(5) = 5", " [.] Got fib(15) = 610", " [.] Got fib(3) = 2")})
        for c in (c1, c2):
            self.assertRegex(c.matching("callback_queue ")[0], r"^callback_queue amq\.gen-")
            self.assertEqual(c.matching("stray "), ["stray 0"], "a reply with someone else's correlation_id")
        self.stop(server)
        self.assertEqual(len(server.matching(" [.] fib(")), 8)
        ch = self.channel()
        self.assertEqual(self.count(ch, "rpc_queue"), (0, 0))


if __name__ == "__main__":
    unittest.main()
