"""Errors a user can fix. The CLI prints them as one line and exits non-zero, without a traceback."""


class VisionError(Exception):
    """A user-facing error: the message names what was wrong (file, key, frame) and what to do."""


class ConfigError(VisionError):
    """A camera config that does not match the contract."""


class ModelError(VisionError):
    """A detector model that is missing or whose output is not understood."""


class SourceError(VisionError):
    """A clip or stream that cannot be opened or read."""
