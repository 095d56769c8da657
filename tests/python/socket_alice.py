# The article's socket Alice (multiprocessing.connection Listener), as a CI fixture.
# Usage: python3 socket_alice.py [PORT | UNIX_PATH]   (default port 6000 on localhost, as in the article)
import sys
from multiprocessing.connection import Listener

ARG = sys.argv[1] if len(sys.argv) > 1 else '6000'
ADDRESS = ('localhost', int(ARG)) if ARG.isdigit() else ARG


def function_to_execute(*args):
    """ Our handler function that will run
        when an incoming request is a list of arguments """
    return args[0] * args[1]


with Listener(ADDRESS, authkey=b'Do not let eve find us!') as listener:
    # Looping here so that the clients / party goers can
    # always come back for more than a single request
    while True:
        print('waiting for someone to ask for something', flush=True)
        with listener.accept() as conn:
            args = conn.recv()
            if args == b'stop server':
                print('Goodbye', flush=True)
                break
            elif isinstance(args, list):
                # Very basic check, must be more secure in production
                print('Someone wants me to do something', flush=True)
                result = function_to_execute(*args)
                conn.send(result)
            else:
                conn.send(b'I have no idea what you want me to do')
