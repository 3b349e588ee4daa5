"""Viewer-response: add the usual security headers to every response, as AWS's example does.

Shows a function that runs on every response to the viewer, cache hit or miss: the headers are
not stored with the cached object, they are added on the way out. (Viewer-response does not run
for origin errors ≥ 400 or responses generated at viewer-request.)
"""

SECURITY_HEADERS = {
    "strict-transport-security": ("Strict-Transport-Security", "max-age=63072000; includeSubDomains; preload"),
    "content-security-policy": (
        "Content-Security-Policy",
        "default-src 'none'; img-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'",
    ),
    "x-content-type-options": ("X-Content-Type-Options", "nosniff"),
    "x-frame-options": ("X-Frame-Options", "DENY"),
    "x-xss-protection": ("X-XSS-Protection", "1; mode=block"),
    "referrer-policy": ("Referrer-Policy", "same-origin"),
}


def handler(event, context):
    response = event["Records"][0]["cf"]["response"]
    headers = response["headers"]
    for name, (key, value) in SECURITY_HEADERS.items():
        headers[name] = [{"key": key, "value": value}]
    return response
