"""Init never finishes: module code sleeps longer than Lambda's 10 s Init limit."""

import time

time.sleep(3600)


def handler(event, context):
    return {}
