"""Errors that reach a user as one line: bad input or bad configuration, never a traceback."""


class WabotError(Exception):
    """Base of every error the CLI prints as `wabot: error: <message>`."""


class ConfigError(WabotError):
    """The environment or wabot.toml is wrong; raised at start, naming the key."""


class PayloadError(WabotError):
    """A webhook body that is not JSON or not a WhatsApp payload."""
