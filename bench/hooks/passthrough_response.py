"""A trivial viewer-response / origin-response handler: the response, unchanged."""


def handler(event, context):
    return event["Records"][0]["cf"]["response"]
