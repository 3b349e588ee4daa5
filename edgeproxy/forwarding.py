"""What CloudFront sends to an origin, built from the viewer request (spec §6, DESIGN §2).

The origin-request event shows the request exactly as it will be sent, so this runs before the
origin-request hook; `finish_origin_headers` adds what CloudFront adds after it (X-Amz-Cf-Id,
the origin's custom headers), which functions never see.
"""

from __future__ import annotations

from edgeproxy.cache.key import origin_query_string as _policy_query_string
from edgeproxy.cache.key import origin_request_headers as _policy_headers
from edgeproxy.config_types import CachePolicyConfig, OriginRequestPolicyConfig
from edgeproxy.headers import HOP_BY_HOP, connection_listed, is_dropped_to_origin
from edgeproxy.models import CustomOrigin, EdgeRequest, S3Origin
from edgeproxy.types import HeaderList

CLOUDFRONT_USER_AGENT = "Amazon CloudFront"


def via_value(http_version: str, domain_name: str) -> str:
    return f"{http_version} {domain_name} (CloudFront)"


def origin_host(origin: CustomOrigin | S3Origin) -> str:
    return origin.netloc if isinstance(origin, CustomOrigin) else origin.domain_name


def origin_request_headers(
    request: EdgeRequest,
    origin: CustomOrigin | S3Origin,
    cache_policy: CachePolicyConfig,
    origin_request_policy: OriginRequestPolicyConfig | None,
    *,
    domain_name: str,
    compress: bool = False,
) -> HeaderList:
    """Headers for the origin before the origin-request hook: policy-forwarded viewer headers
    (hop-by-hop and CloudFront's always-dropped names removed) plus Host, User-Agent, Via and
    X-Forwarded-For as CloudFront sets them.

    With `compress`, Accept-Encoding is normalised to br/gzip (spec §6/§7).
    """
    listed = connection_listed(request.headers)
    viewer = [
        (k, v)
        for k, v in request.headers
        if k not in HOP_BY_HOP and k not in listed and not is_dropped_to_origin(k)
    ]
    headers = _policy_headers(cache_policy, origin_request_policy, viewer, compress=compress, http_version=request.http_version)
    names = {k for k, _ in headers}
    out: HeaderList = []
    # Host first, as on the wire.
    forward_host = "host" in names or (isinstance(origin, CustomOrigin) and origin.forward_host)
    viewer_host = next((v for k, v in request.headers if k == "host"), None)
    if forward_host and viewer_host is not None:
        out.append(("host", viewer_host))
    else:
        out.append(("host", origin_host(origin)))
    xff_prior: list[str] = []
    via_prior: list[str] = []
    for k, v in headers:
        if k == "host":
            continue
        if k == "x-forwarded-for":
            xff_prior.append(v)
            continue
        if k == "via":
            via_prior.append(v)
            continue
        out.append((k, v))
    if "user-agent" not in names:
        out.append(("user-agent", CLOUDFRONT_USER_AGENT))
    # X-Forwarded-For: the TCP peer appended to what the viewer sent (spec §6). The viewer's
    # own list is kept whether or not a policy forwards the header, as CloudFront does.
    if not xff_prior:
        xff_prior = [v for k, v in request.headers if k == "x-forwarded-for"]
    xff = ", ".join([*xff_prior, request.client_ip]) if xff_prior else request.client_ip
    out.append(("x-forwarded-for", xff))
    via = via_value(request.http_version, domain_name)
    out.append(("via", ", ".join([*via_prior, via]) if via_prior else via))
    return out


def origin_query_string(
    querystring: str, cache_policy: CachePolicyConfig, origin_request_policy: OriginRequestPolicyConfig | None
) -> str:
    """The raw query string the origin gets: what the key and the origin request policy name."""
    return _policy_query_string(cache_policy, origin_request_policy, querystring)


def finish_origin_headers(headers: HeaderList, origin: CustomOrigin | S3Origin, request_id: str) -> HeaderList:
    """Add what CloudFront adds after the origin-request hook: X-Amz-Cf-Id and custom headers."""
    out = list(headers)
    for name, value in origin.custom_headers:
        out = [(k, v) for k, v in out if k != name]
        out.append((name, value))
    out.append(("x-amz-cf-id", request_id))
    return out
