#!/usr/bin/env python3
"""fake_clamd.py - a clamd stand-in that misbehaves on purpose, for tests.

usage: fake_clamd.py ADDRESS MODE [NAME]

ADDRESS is a unix socket path, or HOST:PORT for TCP (port 0 = any free
port). Once listening it prints "ready unix:PATH" or "ready inet:HOST:PORT"
on stdout (one line, flushed), then serves connections until killed, each
on its own thread.

Modes (the reply to one zINSTREAM session):
  ok          reads the whole stream, replies "stream: OK\\0"
  found NAME  reads the whole stream, replies "stream: NAME FOUND\\0"
  hash        reads the whole stream, replies "stream: SHA256-<hex> FOUND\\0"
              (hex of the streamed bytes: lets a test check what was sent)
  garbage     reads the whole stream, replies nonsense
  long        reads the whole stream, replies 4 KiB without a NUL
  close       reads the whole stream, sends half a reply and closes
  sizelimit   reads the first chunk, replies
              "INSTREAM size limit exceeded. ERROR\\0" and closes
  slow        reads the whole stream and never replies
  early-ok    replies "stream: OK\\0" right after the command, reads nothing
"""
import hashlib
import os
import socket
import struct
import sys
import threading
import time


def recv_exact(conn, n):
    buf = b""
    while len(buf) < n:
        part = conn.recv(n - len(buf))
        if not part:
            raise EOFError("peer closed")
        buf += part
    return buf


def read_command(conn):
    cmd = b""
    while not cmd.endswith(b"\0"):
        part = conn.recv(1)
        if not part:
            raise EOFError("peer closed")
        cmd += part
    if cmd != b"zINSTREAM\0":
        raise ValueError("unexpected command %r" % cmd)


def read_stream(conn, first_chunk_only=False):
    """Returns the streamed bytes (all chunks up to the empty one)."""
    h = hashlib.sha256()
    while True:
        (n,) = struct.unpack(">I", recv_exact(conn, 4))
        if n == 0:
            return h
        h.update(recv_exact(conn, n))
        if first_chunk_only:
            return h


def serve(conn, mode, name):
    try:
        read_command(conn)
        if mode == "early-ok":
            conn.sendall(b"stream: OK\0")
            time.sleep(3600)
            return
        if mode == "sizelimit":
            read_stream(conn, first_chunk_only=True)
            conn.sendall(b"INSTREAM size limit exceeded. ERROR\0")
            return
        h = read_stream(conn)
        if mode == "ok":
            conn.sendall(b"stream: OK\0")
        elif mode == "found":
            conn.sendall(b"stream: " + name.encode() + b" FOUND\0")
        elif mode == "hash":
            conn.sendall(b"stream: SHA256-" + h.hexdigest().encode() + b" FOUND\0")
        elif mode == "garbage":
            conn.sendall(b"\x16\x03\x01 HELLO? who is this\0")
        elif mode == "long":
            conn.sendall(b"stream: " + b"A" * 4096)
            time.sleep(3600)
        elif mode == "close":
            conn.sendall(b"stream: O")
        elif mode == "slow":
            time.sleep(3600)
    except (EOFError, OSError, ValueError) as e:
        sys.stderr.write("fake_clamd: %s\n" % e)
    finally:
        conn.close()


def listen(address):
    if ":" in address and not address.startswith("/"):
        host, port = address.rsplit(":", 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, int(port)))
        endpoint = "inet:%s:%d" % (host, s.getsockname()[1])
    else:
        if os.path.exists(address):
            os.unlink(address)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(address)
        endpoint = "unix:" + address
    s.listen(16)
    return s, endpoint


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    mode = sys.argv[2]
    name = sys.argv[3] if len(sys.argv) > 3 else "Test-Signature"
    modes = ("ok", "found", "hash", "garbage", "long", "close",
             "sizelimit", "slow", "early-ok")
    if mode not in modes:
        sys.exit("fake_clamd: unknown mode %s" % mode)
    s, endpoint = listen(sys.argv[1])
    print("ready " + endpoint, flush=True)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=serve, args=(conn, mode, name),
                         daemon=True).start()


if __name__ == "__main__":
    main()
