"""The article's Alice for the shared file with a lock, as a test fixture.

This is the article's program; the changes make it runnable unattended and fill in what the
article's text lost:
- the main loop sleeps 50 ms between looks at the file's size (the article's "poor man's
  file watcher"), and stops after IPC_TIMEOUT seconds (default 30) or on SIGTERM;
- run_commands seeks back to the start before writing, and truncates after (the article
  needs the seek; the truncate guards against a shorter rewrite leaving trailing bytes);
- on exit it removes shared.json, as the article does on Ctrl-C;
- she notes the file's size under the lock, right after she blanks or writes it (the
  article's Alice does it after letting go of the lock, and blanks without it: a quick Bob
  who adds his next command in between is then never noticed, as the size she noted already
  counts it; the Rust Bob, woken by inotify, was that quick about once in 30 runs).
Run it in the directory that holds (or will hold) shared.json.
"""
import json
import os
import signal
import sys
import time

from filelock import FileLock

# Keep track of commands that have been run
completed = []
# Track file size to know when new commands have been added
last_size = 0

lock_file = "shared.json.lock"
lock = FileLock(lock_file)
shared_file = "shared.json"


class AliceBroke(Exception):
    """Custom exception for catching our own errors"""


def adding(a, b):
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        raise AliceBroke('Yeah, we are only going to add numbers')
    return a + b


def multiply(a, b):
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        raise AliceBroke('Yeah, we are only going to multiply numbers')
    return a * b


translate = {
    "add": adding,
    "multiply": multiply,
}


def main():
    global last_size
    deadline = time.monotonic() + float(os.environ.get("IPC_TIMEOUT", "30"))
    while time.monotonic() < deadline:
        # Poor man's file watcher
        file_size = os.path.getsize(shared_file)
        if file_size == last_size:
            # File hasn't changed
            time.sleep(0.05)
        else:
            print(f'File has changed from {last_size} to {file_size} bytes,'
                  f' lets see what they want to do!', flush=True)
            last_size = run_commands()


def run_commands():
    # Grab the lock, once it is acquired open the file
    with lock, open(shared_file, 'r+') as f:
        data = json.load(f)
        # Iterate over the command keys, if we haven't run it yet, do so now
        for name in data['commands']:
            if name not in completed:
                command = data['commands'][name]['command']
                args = data['commands'][name]['args']
                print(f'running command {command} with args {args}', flush=True)
                try:
                    data['commands'][name]['result'] = translate[command](*args)
                except AliceBroke as err:
                    # Arguments weren't the type we were expecting
                    data['commands'][name]['error'] = str(err)
                except TypeError:
                    data['commands'][name]['error'] = "Incorrect number of arguments"
                completed.append(name)
        # As we are writing the data back to the same file that is still
        # open, we need to go back to the beginning of it before writing
        f.seek(0)
        json.dump(data, f, indent=2)
        f.truncate()
        f.flush()
        return os.path.getsize(shared_file)


if __name__ == '__main__':
    # Create / blank out the shared file
    with lock:
        with open(shared_file, 'w') as f:
            json.dump({"commands": {}}, f)
        last_size = os.path.getsize(shared_file)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        main()
    except KeyboardInterrupt:
        pass
    finally:
        # Be nice and clean up after ourselves
        os.remove(shared_file)
