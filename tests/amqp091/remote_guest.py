"""Run inside `unshare -rn` by test_security.RemoteGuestTest: gives the new
network namespace's lo a second address, 10.199.0.1 (not a loopback
address: guest's rule, as RabbitMQ's, is about the peer's address), starts
warrend on it, and logs in as guest (refused) and as another user
(allowed)."""
import json
import os
import subprocess
import sys

import pika
import pika.exceptions as px

from amqp_harness import Warrend

ADDRESS = "10.199.0.1"
for cmd in (["ip", "link", "set", "lo", "up"], ["ip", "addr", "add", ADDRESS + "/32", "dev", "lo"]):
    subprocess.run(cmd, check=True)

b = Warrend("--amqp-host", ADDRESS, "--no-socketlock")
path = os.path.join(b.dir, "definitions.json")
with open(path, "w") as f:
    json.dump({"users": [{"name": "app", "password": "pw", "tags": []}],
               "permissions": [{"user": "app", "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"}]}, f)
b.argv += ["--load-definitions", path]
b.start()
try:
    def connect(user, password):
        return pika.BlockingConnection(pika.ConnectionParameters(
            host=ADDRESS, port=b.port, credentials=pika.PlainCredentials(user, password), connection_attempts=1))
    try:
        connect("guest", "guest")
        sys.exit("guest logged in from " + ADDRESS)
    except px.ProbableAuthenticationError:
        print("guest refused from " + ADDRESS)
    connect("app", "pw").close()
    print("app logged in from " + ADDRESS)
    if "the user may only connect via localhost" not in b.stdout_text():
        sys.exit("the log does not say why guest was refused\n" + b.stdout_text())
finally:
    problem = b.stop()
    if problem:
        sys.exit(problem)
