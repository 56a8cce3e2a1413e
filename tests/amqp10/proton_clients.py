"""Client processes the tests start and kill (python3-qpid-proton).

  proton_clients.py hold ADDRESS N    receive N messages, settle none, print
                                      "got BODY" for each, then "holding", and
                                      wait to be killed

The broker's URL comes in $AMQP10_URL.
"""
import os
import sys
import time

from proton.utils import BlockingConnection


def hold(address, n):
    conn = BlockingConnection(os.environ["AMQP10_URL"], timeout=30)
    rcv = conn.create_receiver(address, credit=0)  # 0: no prefetch topping credit up
    rcv.link.flow(n)
    print("ready", flush=True)
    conn.wait(lambda: rcv.fetcher.has_message == n)
    for _ in range(n):
        print(f"got {rcv.fetcher.pop().body}", flush=True)
    print("holding", flush=True)
    while True:  # keeps serving the connection (heartbeats) until killed
        conn.container.process()
        time.sleep(0.01)


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    if mode == "hold":
        hold(args[0], int(args[1]))
    else:
        sys.exit(f"unknown mode {mode!r}\n{__doc__}")
