"""rawmilter.py - a minimal MTA side of the milter protocol, for tests.

miltertest cannot send header fields of more than about 2 KB and runs one
script at a time; this client speaks the protocol itself (4-byte length,
command byte, data) over a unix socket, so a test can send header names of
any length up to libmilter's 64 KB packet limit, read the exact header
change requests (name and index), and hold many connections open at once.

It offers what Postfix offers (every "no reply" step, leading spaces in
header values) and expects a reply only for the steps the milter did not
negotiate as "no reply".
"""
import socket
import struct

NR = {b"C": 0x1000, b"H": 0x2000, b"M": 0x4000, b"R": 0x8000, b"L": 0x80,
      b"N": 0x40000, b"B": 0x80000}
OFFER_ACTIONS = 0x1FF
OFFER_PROTOCOL = 0x001FFFFF
FINAL = b"acdrty"  # accept, continue, discard, reject, tempfail, reply code


class MilterError(Exception):
    pass


class Conn:
    """One milter connection. Every call raises MilterError (or
    socket.timeout) when the milter does not answer as the protocol says."""

    def __init__(self, path, timeout=5.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.nr = 0

    def close(self):
        try:
            self.send(b"Q")
        except OSError:
            pass
        self.sock.close()

    def send(self, cmd, data=b""):
        self.sock.sendall(struct.pack(">I", len(data) + 1) + cmd + data)

    def _exact(self, n):
        buf = b""
        while len(buf) < n:
            part = self.sock.recv(n - len(buf))
            if not part:
                raise MilterError("milter closed the connection")
            buf += part
        return buf

    def recv(self):
        """One packet: (command byte, data)."""
        n = struct.unpack(">I", self._exact(4))[0]
        if n < 1:
            raise MilterError("empty packet")
        pkt = self._exact(n)
        return pkt[:1], pkt[1:]

    def negotiate(self):
        self.send(b"O", struct.pack(">III", 6, OFFER_ACTIONS, OFFER_PROTOCOL))
        cmd, data = self.recv()
        if cmd != b"O" or len(data) < 12:
            raise MilterError("bad option negotiation reply %r" % cmd)
        self.nr = struct.unpack(">III", data[:12])[2] & sum(NR.values())

    def step(self, cmd, data=b""):
        """Sends one step; returns its reply command, or None for a step
        negotiated as no-reply."""
        self.send(cmd, data)
        if cmd in NR and self.nr & NR[cmd]:
            return None
        return self.recv()[0]

    def macro(self, stage, **macros):
        self.send(b"D", stage + b"".join(k.encode() + b"\0" + v.encode() + b"\0"
                                         for k, v in macros.items()))

    def connect(self, host="client.example.net", addr="192.0.2.7"):
        return self.step(b"C", host.encode() + b"\0" + b"4" + struct.pack(">H", 25) +
                         addr.encode() + b"\0")

    def header(self, name, value):
        return self.step(b"L", name + b"\0" + value + b"\0")

    def eom(self):
        """Ends the message; returns (final reply command, [actions]) where
        each action is (command byte, data)."""
        self.send(b"E")
        actions = []
        while True:
            cmd, data = self.recv()
            if cmd in FINAL:
                return cmd, actions
            actions.append((cmd, data))

    def start_message(self, sender="<a@example.net>", rcpt="<bob@example.org>", qid="QRAW"):
        """Negotiation, connect, HELO and envelope; returns the connect reply."""
        self.negotiate()
        r = self.connect()
        if r not in (None, b"c"):
            return r
        self.step(b"H", b"client.example.net\0")
        self.macro(b"M", i=qid)
        self.step(b"M", sender.encode() + b"\0")
        self.step(b"R", rcpt.encode() + b"\0")
        return r


def deletes(actions):
    """The header deletions among EOM actions as [(name bytes, index)]."""
    out = []
    for cmd, data in actions:
        if cmd == b"m":
            idx = struct.unpack(">I", data[:4])[0]
            name, value = data[4:].split(b"\0")[:2]
            if value == b"":
                out.append((name, idx))
    return out
