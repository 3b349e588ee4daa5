"""Handlers that behave: what real Lambda@Edge functions do, plus probes of the runtime environment."""

import logging
import os
import sys
from decimal import Decimal

invocations = 0  # module global: survives between warm invocations


def echo_request(event, context):
    return event["Records"][0]["cf"]["request"]


def add_header(event, context):
    request = event["Records"][0]["cf"]["request"]
    request["headers"]["x-hook"] = [{"key": "X-Hook", "value": "added"}]
    return request


def counter(event, context):
    global invocations
    invocations += 1
    return {"invocations": invocations, "pid": os.getpid()}


def context_dump(event, context):
    return {
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "memory_limit_type": type(context.memory_limit_in_mb).__name__,
        "version_type": type(context.function_version).__name__,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "identity_id": context.identity.cognito_identity_id,
        "identity_pool_id": context.identity.cognito_identity_pool_id,
        "client_context": context.client_context,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "environ": dict(os.environ),
        "cwd": os.getcwd(),
        "sys_path": sys.path,
        "argv": sys.argv,
    }


def logs(event, context):
    print("printed line")
    print("to stderr", file=sys.stderr)
    logger = logging.getLogger()
    logger.setLevel(logging.INFO)  # Lambda's root logger is at WARNING until a handler says otherwise
    logging.info("info from %s", "logging")
    logger.setLevel(logging.WARNING)
    logging.info("not shown: the root logger is back at WARNING")
    logging.getLogger("child").warning("warning from a child logger")
    context.log("via context.log\n")
    return {"ok": True}


def return_none(event, context):
    return None


def return_list(event, context):
    return [1, "two", {"three": 3}]


def return_str(event, context):
    return "just a string"


def return_decimal(event, context):
    return {"price": Decimal("1.5"), 7: "int key"}


def return_tuple(event, context):
    return {"pair": (1, 2)}


class Greeter:
    def __init__(self, greeting):
        self.greeting = greeting

    def handle(self, event, context):
        return {"greeting": self.greeting}


greeter = Greeter("hello from a bound method")
bound = greeter.handle


class CallableHandler:
    def __call__(self, event, context):
        return {"called": "callable object"}


callable_object = CallableHandler()


def no_args():
    return {}


not_callable = {"a": 1}


def body_size(event, context):
    body = event["Records"][0]["cf"]["request"]["body"]["data"]
    return {"received": len(body), "echo": body}
