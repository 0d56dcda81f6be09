"""The one exception type users see: a clear, one-line message and exit status 2."""


class DnncError(Exception):
    """Bad input (file, layer, option) or an impossible request. The CLI prints it as one line."""


class VerificationMismatch(DnncError):
    """An executor disagreed with the reference; raised only where a caller asked for a hard failure."""
