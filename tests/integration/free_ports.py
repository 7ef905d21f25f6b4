#!/usr/bin/env python3
"""Prints N distinct free TCP ports on 127.0.0.1 (default 1), one per line.

Ports are drawn at random below Linux's ephemeral range (32768+), so an outgoing
connection cannot grab one between this check and the server's bind, and each is checked
by binding it. The stack's default ports (8480, 13306) are never returned.
"""
import random
import socket
import sys

LOW, HIGH = 20000, 32000
AVOID = {8480, 13306}


def is_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_ports(n):
    ports = []
    rng = random.SystemRandom()
    for _ in range(10000):
        if len(ports) == n:
            return ports
        port = rng.randint(LOW, HIGH)
        if port not in AVOID and port not in ports and is_free(port):
            ports.append(port)
    raise SystemExit("free_ports.py: could not find %d free ports" % n)


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    print("\n".join(str(p) for p in free_ports(count)))
