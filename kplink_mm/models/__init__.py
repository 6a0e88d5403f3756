from . import necks  # noqa: F401
