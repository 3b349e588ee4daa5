"""edgeproxy: run and test AWS Lambda@Edge functions off the cloud.

A CloudFront-like reverse proxy with an HTTP cache that calls ordinary Lambda@Edge handlers at
the four CloudFront stages, each in isolated, warm worker processes with Lambda's limits.
"""

from __future__ import annotations

__version__ = "0.1.0"
