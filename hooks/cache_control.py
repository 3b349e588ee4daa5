"""Origin-response: give responses a `Cache-Control: max-age` when the origin sent none.

Shows a function changing headers before CloudFront caches the response: the header it adds
decides the object's TTL (within the cache policy's min/max) and reaches the viewer too.
Only successful and redirect responses get the default; errors keep CloudFront's error caching.
"""

DEFAULT_MAX_AGE = 300  # seconds


def handler(event, context):
    response = event["Records"][0]["cf"]["response"]
    headers = response["headers"]
    if int(response["status"]) < 400 and not headers.get("cache-control"):
        headers["cache-control"] = [
            {"key": "Cache-Control", "value": "public, max-age=%d" % DEFAULT_MAX_AGE}
        ]
    return response
