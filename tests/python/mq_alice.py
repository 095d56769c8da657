# POSIX message queue Alice in Python (posix_ipc), for CI: prints every message with its
# priority until she gets b'stop'. Usage: python3 mq_alice.py QUEUE
import sys

import posix_ipc

name = sys.argv[1]
mq = posix_ipc.MessageQueue(name, posix_ipc.O_CREAT, max_messages=10, max_message_size=8192)
mq.block = True
print('waiting for messages on', name, flush=True)
while True:
    message, priority = mq.receive(30)   # seconds: bounded, a lost message fails CI
    if message == b'stop':
        print('Goodbye', flush=True)
        break
    print('%s (priority %d)' % (message.decode(), priority), flush=True)
mq.close()
mq.unlink()
