"""Init raises: the module's own code fails."""


def _load_settings():
    raise RuntimeError("settings file is missing")


SETTINGS = _load_settings()


def handler(event, context):
    return {}
