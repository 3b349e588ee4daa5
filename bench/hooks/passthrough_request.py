"""A trivial viewer-request / origin-request handler: the request, unchanged (what the bench times
is the stage's machinery — event, IPC, validation — not the handler's own work)."""


def handler(event, context):
    return event["Records"][0]["cf"]["request"]
