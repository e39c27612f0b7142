"""The one exception type the CLI turns into ``halpe-eval: error: ...`` and exit status 2."""


class InputError(ValueError):
    """Malformed or unreadable input; the message names the file and the record."""
