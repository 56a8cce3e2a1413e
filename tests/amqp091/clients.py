"""Helper clients the tests run as separate processes (so that they can be
SIGKILLed). The broker is at $AMQP_HOST:$AMQP_PORT.

  hold QUEUE PREFETCH   consume QUEUE with manual ack and never ack: print
                        "got BODY redelivered=BOOL" per message
  exclusive QUEUE       declare QUEUE exclusive, print "ready", then idle
  work QUEUE PREFETCH   consume QUEUE: print "got BODY redelivered=BOOL"
                        for each message, then ack it
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


def work(queue, prefetch):
    connection = connect()
    channel = connection.channel()
    channel.basic_qos(prefetch_count=int(prefetch))

    def on_message(ch, method, properties, body):
        # Said before the ack: a message acked but never said would look lost.
        print(f"got {body.decode()} redelivered={method.redelivered}", flush=True)
        ch.basic_ack(method.delivery_tag)

    channel.basic_consume(queue=queue, on_message_callback=on_message)
    print("ready", flush=True)
    channel.start_consuming()


def exclusive(queue):
    connection = connect()
    connection.channel().queue_declare(queue=queue, exclusive=True)
    print("ready", flush=True)
    connection.sleep(120)


if __name__ == "__main__":
    {"hold": hold, "exclusive": exclusive, "work": work}[sys.argv[1]](*sys.argv[2:])
