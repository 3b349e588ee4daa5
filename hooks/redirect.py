"""Viewer-request: answer `/old/*` with a redirect to `/new/*` (a generated response).

Shows a function generating the response itself, so CloudFront neither checks the cache nor
calls the origin (and does not cache it: generated at viewer-request). The query string is kept.
`/old/...` moved for good (301); `/promo/...` points at a temporary page (302).
Every other request is returned unchanged and continues to the cache and the origin.
"""

REDIRECTS = (
    # (old prefix, new prefix, status, statusDescription)
    ("/old/", "/new/", "301", "Moved Permanently"),
    ("/promo/", "/sale/", "302", "Found"),
)


def handler(event, context):
    request = event["Records"][0]["cf"]["request"]
    uri = request["uri"]
    for old, new, status, description in REDIRECTS:
        if uri.startswith(old):
            location = new + uri[len(old):]
            if request["querystring"]:
                location += "?" + request["querystring"]
            return {
                "status": status,
                "statusDescription": description,
                "headers": {
                    "location": [{"key": "Location", "value": location}],
                    "cache-control": [{"key": "Cache-Control", "value": "max-age=3600"}],
                },
            }
    return request
