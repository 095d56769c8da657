# The article's socket Bob (multiprocessing.connection Client), as a CI fixture.
# Usage: python3 socket_bob.py [PORT | UNIX_PATH]   (default port 6000 on localhost, as in the article)
import sys
import time
from multiprocessing.connection import Client

ARG = sys.argv[1] if len(sys.argv) > 1 else '6000'
ADDRESS = ('localhost', int(ARG)) if ARG.isdigit() else ARG


def connect():
    # Not in the article: wait for Alice to be up, so the two can start in any order.
    for _ in range(200):
        try:
            return Client(ADDRESS, authkey=b'Do not let eve find us!')
        except (ConnectionRefusedError, FileNotFoundError):
            time.sleep(0.05)
    return Client(ADDRESS, authkey=b'Do not let eve find us!')


with connect() as conn:
    conn.send([8, 8])
    print(f"What is 8 * 8? Why Alice told me it's {conn.recv()}", flush=True)

# We have to connect again because Alice can only handle one request at a time
with connect() as conn:
    # Bob's a party pooper and going to end it for everyone
    conn.send(b'stop server')
