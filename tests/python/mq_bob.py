# POSIX message queue Bob in Python (posix_ipc), for CI: sends MESSAGE with PRIORITY.
# Usage: python3 mq_bob.py QUEUE MESSAGE [PRIORITY]
import sys

import posix_ipc

name, message = sys.argv[1], sys.argv[2].encode()
priority = int(sys.argv[3]) if len(sys.argv) > 3 else 0
mq = posix_ipc.MessageQueue(name, posix_ipc.O_CREAT, max_messages=10, max_message_size=8192)
mq.send(message, 30, priority)   # timeout in seconds
print('sent %r to %s' % (message, name), flush=True)
mq.close()
