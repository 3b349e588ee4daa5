"""Init fails to import a dependency that is not installed."""

import edgeproxy_no_such_dependency  # noqa: F401


def handler(event, context):
    return {}
