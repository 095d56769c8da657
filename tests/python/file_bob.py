"""The article's Bob for the shared file with a lock, as a test fixture.

This is the article's program; the changes make it runnable unattended and fill in what the
article's text lost:
- ask_alice seeks back to the start before writing, and truncates after;
- get_answer sleeps 50 ms between looks and gives up after IPC_TIMEOUT seconds (default 30);
- it multiplies 8 and 5, as the article's printed output shows (its code said 2 and 5).
As in the article, the last call raises the error Alice answers: the program exits with
status 1 and "Exception: Yeah, we are only going to add numbers" on stderr.
Run it in the directory that holds shared.json.
"""
import json
import os
import time
import uuid

from filelock import FileLock

completed = []
last_size = 0

lock = FileLock("shared.json.lock")
shared_file = "shared.json"
timeout = float(os.environ.get("IPC_TIMEOUT", "30"))


def ask_alice(command, *args, wait_for_answer=True):
    # Create a new random ID for the command
    cmd_uuid = str(uuid.uuid4())
    with lock, open(shared_file, "r+") as f:
        data = json.load(f)
        data['commands'][cmd_uuid] = {'command': command, 'args': args}
        f.seek(0)
        json.dump(data, f)
        f.truncate()
    if wait_for_answer:
        return get_answer(cmd_uuid)
    return cmd_uuid


def get_answer(cmd_uuid):
    # Wait until we get an answer back for a command
    deadline = time.monotonic() + timeout
    while True:
        with lock, open(shared_file) as f:
            data = json.load(f)
            command = data['commands'][cmd_uuid]
            if 'result' in command:
                return command['result']
            elif 'error' in command:
                raise Exception(command['error'])
        if time.monotonic() > deadline:
            raise TimeoutError(f'no answer to {cmd_uuid} within {timeout} s')
        time.sleep(0.05)


print(f"Lets add 2 and 5: {ask_alice('add', 2, 5, wait_for_answer=True)}", flush=True)

print(f"Lets multiply 8 and 5: {ask_alice('multiply', 8, 5, wait_for_answer=True)}", flush=True)

print("Lets break it and cause an exception!", flush=True)
ask_alice('add', 'bad', 'data', wait_for_answer=True)
