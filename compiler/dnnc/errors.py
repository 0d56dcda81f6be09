"""Errors: DnncError is what users see (one clear line, exit status 2); InternalError is a dnnc bug."""


class DnncError(Exception):
    """Bad input (file, layer, option) or an impossible request. The CLI prints it as one line.

    The message is made one line here, whatever it quotes (a tensor's repr, a library's multi-line
    error), and cut at MAX_MESSAGE characters: a value from a hostile file may be anything.
    """

    MAX_MESSAGE = 2000

    def __init__(self, *args):
        if args and isinstance(args[0], str):
            msg = " ".join(args[0].split())
            if len(msg) > self.MAX_MESSAGE:
                msg = msg[: self.MAX_MESSAGE - 3] + "..."
            args = (msg, *args[1:])
        super().__init__(*args)


class VerificationMismatch(DnncError):
    """An executor disagreed with the reference; raised only where a caller asked for a hard failure."""


class InternalError(Exception):
    """A bug in dnnc, not in the user's input: an invariant the compiler itself guarantees does not hold.

    Deliberately not a DnncError: the CLI does not turn it into a one-line "bad input" message, so the
    traceback a bug report needs is shown.
    """


class InvalidIR(InternalError):
    """`IRModel.verify()` found an IR that breaks docs/ir-spec.md; the message names the layer."""
