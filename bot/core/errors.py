"""Errors that reach a user as one line: bad input or bad configuration, never a traceback."""


class WabotError(Exception):
    """Base of every error the CLI prints as `wabot: error: <message>`."""


class ConfigError(WabotError):
    """The environment or wabot.toml is wrong; raised at start, naming the key."""


class PayloadError(WabotError):
    """A webhook body that is not JSON or not a WhatsApp payload."""


class NotFound(WabotError):
    """A named thing that does not exist (a customer, a segment, a campaign). The CLI prints it as
    any other error; the web layer answers 404 for it, in one place (bot/web/errors.py)."""

    code = "not_found"


class UnknownCampaign(NotFound):
    """A campaign name that wabot.toml does not configure."""
