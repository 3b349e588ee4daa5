"""Handlers that misbehave: sleep past the timeout, raise, return garbage, flood, eat memory, die."""

import datetime
import os
import signal
import sys
import time


def sleep(event, context):
    time.sleep(event.get("sleep_s", 30))
    return {"slept": event.get("sleep_s", 30)}


def _inner_helper(value):
    raise ValueError(f"bad value: {value}")


def raise_error(event, context):
    _inner_helper(42)


def raise_memory_error(event, context):
    raise MemoryError("cannot allocate")


def return_bytes(event, context):
    return b"raw bytes"


def return_cyclic(event, context):
    data = {}
    data["self"] = data
    return data


def return_datetime(event, context):
    return {"now": datetime.datetime(2020, 1, 1)}


def return_huge(event, context):
    return {"body": "x" * (7 * 1024 * 1024)}


def print_flood(event, context):
    for i in range(event.get("lines", 100_000)):
        print(f"flood line {i}")
    return {"printed": event.get("lines", 100_000)}


def print_no_newline(event, context):
    sys.stdout.write("y" * (600 * 1024))
    return {"ok": True}


def allocate_hold(event, context):
    block = b"m" * (event.get("mb", 300) * 1024 * 1024)  # touched, so resident
    time.sleep(event.get("hold_s", 30))
    return {"len": len(block)}


def allocate_return(event, context):
    block = b"m" * (event.get("mb", 300) * 1024 * 1024)
    return {"len": len(block)}


def exit3(event, context):
    os._exit(3)


def sys_exit(event, context):
    sys.exit(7)


def segfault(event, context):
    os.kill(os.getpid(), signal.SIGSEGV)
    time.sleep(5)


def sigkill(event, context):
    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(5)


def _fork_sleeper(pidfile):
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()  # even a child that leaves the worker's process group is found
            time.sleep(3600)
        finally:
            os._exit(0)
    with open(pidfile, "w") as fh:
        fh.write(str(pid))
    return pid


def fork_then_hang(event, context):
    _fork_sleeper(event["pidfile"])
    time.sleep(3600)


def fork_then_return(event, context):
    return {"child": _fork_sleeper(event["pidfile"])}
