"""What CloudFront sends to an origin, built from the viewer request (spec §6, DESIGN §2).

The origin-request event shows the request exactly as it will be sent, so this runs before the
origin-request hook; `finish_origin_headers` adds what CloudFront adds after it (X-Amz-Cf-Id,
the origin's custom headers), which functions never see.
"""

from __future__ import annotations

from edgeproxy.cache.key import origin_request_headers as _policy_headers
from edgeproxy.config_types import CachePolicyConfig, OriginRequestPolicyConfig
from edgeproxy.headers import HOP_BY_HOP, connection_listed, is_dropped_to_origin
from edgeproxy.models import CustomOrigin, EdgeRequest, S3Origin, header_value
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
    via: str,
    compress: bool = False,
) -> HeaderList:
    """Headers for the origin before the origin-request hook: policy-forwarded viewer headers
    (hop-by-hop and CloudFront's always-dropped names removed) plus Host, User-Agent, Via and
    X-Forwarded-For as CloudFront sets them. `via` is this hop's Via value (the caller keeps
    it precomputed per HTTP version).

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
    viewer_host = header_value(request.headers, "host")
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
    out.append(("via", ", ".join([*via_prior, via]) if via_prior else via))
    return out


def finish_origin_headers(headers: HeaderList, origin: CustomOrigin | S3Origin, request_id: str) -> HeaderList:
    """Add what CloudFront adds after the origin-request hook: the origin's custom headers
    (replacing any of the same name) and X-Amz-Cf-Id."""
    custom = origin.custom_headers
    if custom:
        names = {name for name, _ in custom}
        headers = [(k, v) for k, v in headers if k not in names]
        headers.extend(custom)
    else:
        headers = list(headers)
    headers.append(("x-amz-cf-id", request_id))
    return headers
