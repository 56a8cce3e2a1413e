"""Takes a lock queue and holds it until killed: prints "granted TOKEN".
argv: queue name. AMQP_HOST/AMQP_PORT from the environment (harness spawn)."""
import os
import sys

import pika

conn = pika.BlockingConnection(pika.ConnectionParameters(os.environ["AMQP_HOST"], int(os.environ["AMQP_PORT"])))
ch = conn.channel()
ch.basic_qos(prefetch_count=1)


def granted(ch, method, props, body):
    print("granted", props.headers["x-fencing-token"], flush=True)


ch.basic_consume(sys.argv[1], granted)
ch.start_consuming()
