"""Helper clients the tests run as separate processes (so that they can be
SIGKILLed). The broker is at $AMQP_HOST:$AMQP_PORT.

  hold QUEUE PREFETCH   consume QUEUE with manual ack and never ack: print
                        "got BODY redelivered=BOOL" per message
"""
import os
import sys

import pika


def connect():
    return pika.BlockingConnection(
        pika.ConnectionParameters(host=os.environ.get("AMQP_HOST", "127.0.0.1"),
                                  port=int(os.environ["AMQP_PORT"])))


def hold(queue, prefetch):
    connection = connect()
    channel = connection.channel()
    channel.basic_qos(prefetch_count=int(prefetch))

    def on_message(ch, method, properties, body):
        print(f"got {body.decode()} redelivered={method.redelivered}", flush=True)

    channel.basic_consume(queue=queue, on_message_callback=on_message)
    print("ready", flush=True)
    channel.start_consuming()


if __name__ == "__main__":
    {"hold": hold}[sys.argv[1]](*sys.argv[2:])
