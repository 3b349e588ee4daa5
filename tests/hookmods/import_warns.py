"""Init warns and prints: neither is fatal, and both reach the function log."""

import warnings

warnings.warn("this module is old", DeprecationWarning, stacklevel=1)
warnings.warn("careful with this one", UserWarning, stacklevel=1)
print("hello from module init")


def handler(event, context):
    return {"imported": True}
