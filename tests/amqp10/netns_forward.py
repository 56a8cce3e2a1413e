"""Runs a client that insists on localhost:5672 (Proton's helloworld.py and
helloworld_blocking.py take no address) against a broker on another port,
without changing the client: the client runs in a new network namespace
(unshare -rn) where this script listens on localhost:5672 and relays each
connection over a Unix socket (file system sockets cross network
namespaces) to the test process, which relays it to the broker.

  inside the namespace: netns_forward.py UNIX_PATH -- COMMAND...
  in the test process:  UnixToTcp(UNIX_PATH, host, port).start()
"""
import fcntl
import os
import socket
import struct
import subprocess
import sys
import threading


def pipe(src, dst):
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
        try:
            s.shutdown(how)
        except OSError:
            pass


def relay(a, b):
    threads = [threading.Thread(target=pipe, args=x, daemon=True) for x in ((a, b), (b, a))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    a.close()
    b.close()


def serve(listener, connect):
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return  # closed
        try:
            upstream = connect()
        except OSError:
            client.close()
            continue
        threading.Thread(target=relay, args=(client, upstream), daemon=True).start()


class UnixToTcp:
    """The test process's half: a Unix socket listener relaying to host:port."""

    def __init__(self, path, host, port):
        self.path, self.host, self.port = path, host, port
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)

    def start(self):
        self.listener.bind(self.path)
        self.listener.listen(16)
        threading.Thread(target=serve, daemon=True,
                         args=(self.listener, lambda: socket.create_connection((self.host, self.port)))).start()
        return self

    def stop(self):
        self.listener.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def loopback_up():
    """`ip link set lo up` without needing iproute2: SIOCGIFFLAGS, then SIOCSIFFLAGS with IFF_UP."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, struct.pack("16sH", b"lo", 0))[:18])[1]
    fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", flags | 0x1))
    s.close()


def main():
    path, sep, *command = sys.argv[1:]
    assert sep == "--" and command, __doc__
    loopback_up()

    def to_unix():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        return s

    for family, addr in ((socket.AF_INET, ("127.0.0.1", 5672)), (socket.AF_INET6, ("::1", 5672))):
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(addr)
        listener.listen(16)
        threading.Thread(target=serve, args=(listener, to_unix), daemon=True).start()
    sys.exit(subprocess.run(command).returncode)


if __name__ == "__main__":
    main()
