"""Origin-request: send some requests to another custom origin, chosen by a header or the path.

Shows dynamic origin selection: the function replaces `request.origin` (the origin need not be
in the distribution) and sets the `Host` header to the new origin, as AWS's examples do.
Requests with `X-Backend: beta`, or under `/beta/`, go to BETA_ORIGIN; the rest are untouched.
(`X-Backend` must be forwarded to the origin, by an origin request policy, to be seen here.)
"""

BETA_ORIGIN = {
    "domainName": "localhost",  # edgeproxy allows a local origin; CloudFront needs a DNS name
    "port": 9001,
    "protocol": "http",
    "path": "",
    "sslProtocols": ["TLSv1.2"],
    "readTimeout": 30,
    "keepaliveTimeout": 5,
    "customHeaders": {},
}


def handler(event, context):
    request = event["Records"][0]["cf"]["request"]
    headers = request["headers"]
    backend = headers.get("x-backend", [{}])[0].get("value", "")
    if backend.lower() == "beta" or request["uri"].startswith("/beta/"):
        origin = dict(BETA_ORIGIN)
        request["origin"] = {"custom": origin}
        host = origin["domainName"]
        default_port = 443 if origin["protocol"] == "https" else 80
        if origin["port"] != default_port:
            host = "%s:%d" % (host, origin["port"])
        headers["host"] = [{"key": "Host", "value": host}]
    return request
