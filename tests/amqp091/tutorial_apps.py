"""The six RabbitMQ tutorial programs, written the way the pika tutorials
write them (BlockingConnection, basic_consume + start_consuming), one
subcommand each. The broker is at $AMQP_HOST:$AMQP_PORT. Consumers print
"ready" once they consume, then one line per message, and stop on SIGINT
(KeyboardInterrupt) after closing their connection, as the tutorials do.

  send | receive                                       (1: hello world)
  new_task WORDS... | worker                          (2: work queues)
  emit_log MSG | receive_logs                          (3: publish/subscribe)
  emit_log_direct SEVERITY MSG | receive_logs_direct SEVERITY...   (4: routing)
  emit_log_topic KEY MSG | receive_logs_topic BINDING...           (5: topics)
  rpc_server | rpc_client N...                         (6: RPC)

A task's dots are work, as in the tutorial, but 0.1 s each (not 1 s).
"""
import os
import sys
import time
import uuid

import pika

SECONDS_PER_DOT = 0.1


def connect():
    return pika.BlockingConnection(
        pika.ConnectionParameters(host=os.environ.get("AMQP_HOST", "127.0.0.1"),
                                  port=int(os.environ["AMQP_PORT"])))


def consume_forever(connection, channel):
    print("ready", flush=True)
    try:
        channel.start_consuming()
    except KeyboardInterrupt:
        channel.stop_consuming()
    connection.close()


# 1: "Hello World!"
def send(args):
    connection = connect()
    channel = connection.channel()
    channel.queue_declare(queue="hello")
    channel.basic_publish(exchange="", routing_key="hello", body="Hello World!")
    print(" [x] Sent 'Hello World!'")
    connection.close()


def receive(args):
    connection = connect()
    channel = connection.channel()
    channel.queue_declare(queue="hello")

    def callback(ch, method, properties, body):
        print(f" [x] Received {body.decode()}", flush=True)

    channel.basic_consume(queue="hello", on_message_callback=callback, auto_ack=True)
    consume_forever(connection, channel)


# 2: work queues
def new_task(args):
    connection = connect()
    channel = connection.channel()
    channel.queue_declare(queue="task_queue", durable=True)
    for message in args:
        channel.basic_publish(
            exchange="", routing_key="task_queue", body=message,
            properties=pika.BasicProperties(delivery_mode=pika.spec.PERSISTENT_DELIVERY_MODE))
        print(f" [x] Sent {message}")
    connection.close()


def worker(args):
    connection = connect()
    channel = connection.channel()
    channel.queue_declare(queue="task_queue", durable=True)

    def callback(ch, method, properties, body):
        text = body.decode()
        time.sleep(text.count(".") * SECONDS_PER_DOT)
        # The delivery mode proves the persistent flag made the trip.
        print(f" [x] Done {text} delivery_mode={properties.delivery_mode}", flush=True)
        ch.basic_ack(delivery_tag=method.delivery_tag)

    channel.basic_qos(prefetch_count=1)
    channel.basic_consume(queue="task_queue", on_message_callback=callback)
    consume_forever(connection, channel)


# 3: publish/subscribe
def emit_log(args):
    connection = connect()
    channel = connection.channel()
    channel.exchange_declare(exchange="logs", exchange_type="fanout")
    message = " ".join(args) or "info: Hello World!"
    channel.basic_publish(exchange="logs", routing_key="", body=message)
    print(f" [x] Sent {message}")
    connection.close()


def receive_logs(args):
    connection = connect()
    channel = connection.channel()
    channel.exchange_declare(exchange="logs", exchange_type="fanout")
    result = channel.queue_declare(queue="", exclusive=True)
    queue_name = result.method.queue
    print(f"queue {queue_name}", flush=True)
    channel.queue_bind(exchange="logs", queue=queue_name)

    def callback(ch, method, properties, body):
        print(f" [x] {body.decode()}", flush=True)

    channel.basic_consume(queue=queue_name, on_message_callback=callback, auto_ack=True)
    consume_forever(connection, channel)


# 4: routing
def emit_log_direct(args):
    connection = connect()
    channel = connection.channel()
    channel.exchange_declare(exchange="direct_logs", exchange_type="direct")
    severity = args[0] if args else "info"
    message = " ".join(args[1:]) or "Hello World!"
    channel.basic_publish(exchange="direct_logs", routing_key=severity, body=message)
    print(f" [x] Sent {severity}:{message}")
    connection.close()


def receive_logs_direct(args):
    connection = connect()
    channel = connection.channel()
    channel.exchange_declare(exchange="direct_logs", exchange_type="direct")
    queue_name = channel.queue_declare(queue="", exclusive=True).method.queue
    for severity in args:
        channel.queue_bind(exchange="direct_logs", queue=queue_name, routing_key=severity)

    def callback(ch, method, properties, body):
        print(f" [x] {method.routing_key}:{body.decode()}", flush=True)

    channel.basic_consume(queue=queue_name, on_message_callback=callback, auto_ack=True)
    consume_forever(connection, channel)


# 5: topics
def emit_log_topic(args):
    connection = connect()
    channel = connection.channel()
    channel.exchange_declare(exchange="topic_logs", exchange_type="topic")
    routing_key = args[0] if args else "anonymous.info"
    message = " ".join(args[1:]) or "Hello World!"
    channel.basic_publish(exchange="topic_logs", routing_key=routing_key, body=message)
    print(f" [x] Sent {routing_key}:{message}")
    connection.close()


def receive_logs_topic(args):
    connection = connect()
    channel = connection.channel()
    channel.exchange_declare(exchange="topic_logs", exchange_type="topic")
    queue_name = channel.queue_declare("", exclusive=True).method.queue
    for binding_key in args:
        channel.queue_bind(exchange="topic_logs", queue=queue_name, routing_key=binding_key)

    def callback(ch, method, properties, body):
        print(f" [x] {method.routing_key}:{body.decode()}", flush=True)

    channel.basic_consume(queue=queue_name, on_message_callback=callback, auto_ack=True)
    consume_forever(connection, channel)


# 6: RPC
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def rpc_server(args):
    connection = connect()
    channel = connection.channel()
    channel.queue_declare(queue="rpc_queue")

    def on_request(ch, method, props, body):
        n = int(body)
        print(f" [.] fib({n})", flush=True)
        response = fib(n)
        ch.basic_publish(exchange="", routing_key=props.reply_to,
                         properties=pika.BasicProperties(correlation_id=props.correlation_id),
                         body=str(response))
        ch.basic_ack(delivery_tag=method.delivery_tag)

    channel.basic_qos(prefetch_count=1)
    channel.basic_consume(queue="rpc_queue", on_message_callback=on_request)
    consume_forever(connection, channel)


class FibonacciRpcClient:
    def __init__(self):
        self.connection = connect()
        self.channel = self.connection.channel()
        result = self.channel.queue_declare(queue="", exclusive=True)
        self.callback_queue = result.method.queue
        self.channel.basic_consume(queue=self.callback_queue, on_message_callback=self.on_response,
                                   auto_ack=True)
        self.response = None
        self.corr_id = None
        self.stray = 0  # replies whose correlation id is not ours

    def on_response(self, ch, method, props, body):
        if self.corr_id == props.correlation_id:
            self.response = body
        else:
            self.stray += 1

    def call(self, n, timeout=20):
        self.response = None
        self.corr_id = str(uuid.uuid4())
        self.channel.basic_publish(exchange="", routing_key="rpc_queue",
                                   properties=pika.BasicProperties(reply_to=self.callback_queue,
                                                                   correlation_id=self.corr_id),
                                   body=str(n))
        deadline = time.monotonic() + timeout
        while self.response is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no reply to fib({n}) within {timeout}s")
            self.connection.process_data_events(time_limit=0.1)
        return int(self.response)


def rpc_client(args):
    client = FibonacciRpcClient()
    print(f"callback_queue {client.callback_queue}", flush=True)
    for n in args:
        print(f" [.] Got fib({n}) = {client.call(int(n))}", flush=True)
    print(f"stray {client.stray}")
    client.connection.close()


PROGRAMS = {f.__name__: f for f in (send, receive, new_task, worker, emit_log, receive_logs, emit_log_direct,
                                     receive_logs_direct, emit_log_topic, receive_logs_topic, rpc_server,
                                     rpc_client)}

if __name__ == "__main__":
    PROGRAMS[sys.argv[1]](sys.argv[2:])
