# CPython 3.12's multiprocessing.connection authkey handshake, byte by byte, for CI on a
# machine whose python3 is 3.11. Written from the protocol notes
# (shared/notes/python-multiprocessing-protocol.md, sections 4.2, 4.4 and Appendix B): it
# checks every frame's exact length and content, with Python's own hmac module.
#
#   python3 socket_handshake312.py listener PORT   # a 3.12 Listener + the article's Alice
#   python3 socket_handshake312.py client PORT     # a 3.12 Client + the article's Bob
import hmac
import os
import pickle
import socket
import struct
import sys
import time

KEY = b'Do not let eve find us!'
CHALLENGE, WELCOME, FAILURE = b'#CHALLENGE#', b'#WELCOME#', b'#FAILURE#'


def recv_exact(s, n):
    buf = b''
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError('end of stream after %d of %d bytes' % (len(buf), n))
        buf += chunk
    return buf


def send_frame(s, payload):
    s.sendall(struct.pack('!i', len(payload)) + payload)


def recv_frame(s, maxsize=None):
    header = recv_exact(s, 4)
    (size,) = struct.unpack('!i', header)
    if size == -1:
        (size,) = struct.unpack('!Q', recv_exact(s, 8))
    assert size >= 0, 'negative length %d' % size
    assert maxsize is None or size <= maxsize, 'frame of %d bytes > %d' % (size, maxsize)
    return header, recv_exact(s, size)


def deliver(s):
    message = b'{sha256}' + os.urandom(40)
    frame = struct.pack('!i', len(CHALLENGE + message)) + CHALLENGE + message
    assert frame[:4] == bytes.fromhex('0000003b'), frame[:4]
    s.sendall(frame)
    header, response = recv_frame(s, 256)
    assert header == bytes.fromhex('00000028'), 'response header %s, want 00000028' % header.hex()
    assert response[:8] == b'{sha256}', response[:8]
    expected = hmac.new(KEY, message, 'sha256').digest()
    if not hmac.compare_digest(response[8:], expected):
        send_frame(s, FAILURE)
        raise SystemExit('FAIL: the Rust side answered our {sha256} challenge with a wrong MAC')
    send_frame(s, WELCOME)
    print('3.12 deliver: got a correct 40-byte {sha256} answer', flush=True)


def answer(s):
    header, message = recv_frame(s, 256)
    assert header == bytes.fromhex('0000003b'), 'challenge header %s, want 0000003b' % header.hex()
    assert message[:11] == CHALLENGE and message[11:19] == b'{sha256}', message[:19]
    message = message[11:]
    assert len(message) == 48
    send_frame(s, b'{sha256}' + hmac.new(KEY, message, 'sha256').digest())
    header, verdict = recv_frame(s, 256)
    assert (header, verdict) == (bytes.fromhex('00000009'), WELCOME), (header, verdict)
    print('3.12 answer: the Rust side sent a 59-byte {sha256} challenge and welcomed our answer', flush=True)


def connect(port):
    for _ in range(400):
        try:
            return socket.create_connection(('127.0.0.1', port))
        except ConnectionRefusedError:
            time.sleep(0.05)
    raise SystemExit('FAIL: nobody listens on port %d' % port)


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == 'listener':
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(('127.0.0.1', port))
        srv.listen(1)
        while True:
            conn, _ = srv.accept()
            with conn:
                deliver(conn)   # Listener.accept(): deliver, then answer
                answer(conn)
                args = pickle.loads(recv_frame(conn)[1])
                if args == b'stop server':
                    print('Goodbye', flush=True)
                    return
                assert args == [8, 8], args
                send_frame(conn, pickle.dumps(args[0] * args[1]))
    else:
        with connect(port) as s:
            answer(s)           # Client(): answer, then deliver
            deliver(s)
            send_frame(s, pickle.dumps([8, 8]))
            result = pickle.loads(recv_frame(s)[1])
            assert result == 64, result
            print("What is 8 * 8? Why Alice told me it's %r" % result, flush=True)
        with connect(port) as s:
            answer(s)
            deliver(s)
            send_frame(s, pickle.dumps(b'stop server'))


main()
