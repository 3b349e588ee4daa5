"""Viewer-request: pretty URLs — `/about` is served from `/about.html`, `/docs/` from `/docs/index.html`.

Shows a function changing `request.uri`: the viewer keeps seeing the pretty URL (no redirect),
while the cache key and the origin request use the rewritten object. The cache behavior was
already chosen from the original URI, as on CloudFront.
"""


def handler(event, context):
    request = event["Records"][0]["cf"]["request"]
    uri = request["uri"]
    if uri.endswith("/"):
        request["uri"] = uri + "index.html"
    else:
        last = uri.rsplit("/", 1)[-1]
        if "." not in last:
            request["uri"] = uri + ".html"
    return request
