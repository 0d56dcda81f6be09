"""The `dnnc` command line: a click group whose subcommands live one per module in dnnc.commands.

Every subcommand is a thin wrapper over importable functions. Errors meant for users (DnncError,
click usage errors) print one line and exit with status 2; `--debug` shows the traceback instead.
SIGTERM, SIGINT and SIGHUP remove every temporary output (dnnc.fsutil), print one line and exit with
128 + the signal number, as a shell reports a killed command. Library warnings (torch, numpy, onnx) are
silenced unless `--debug`, so an error stays one line.
"""

from __future__ import annotations

import importlib
import signal
import sys
import warnings
from typing import NoReturn

import click

from dnnc import __version__
from dnnc.errors import DnncError
from dnnc.fsutil import Interrupted, raised_signal, remove_temporaries, signal_cleanup

# name -> "module:attribute"; loaded lazily so `dnnc --help` does not import torch.
COMMANDS = {
    "train": "dnnc.commands.train:train",
    "evaluate": "dnnc.commands.evaluate:evaluate",
    "export": "dnnc.commands.export:export",
    "inspect": "dnnc.commands.inspect:inspect",
    "verify": "dnnc.commands.verify:verify",
    "run": "dnnc.commands.run:run",
    "compile": "dnnc.commands.compile:compile_cmd",
    "bench": "dnnc.commands.bench:bench",
    "plot": "dnnc.commands.plot:plot",
}


class LazyGroup(click.Group):
    """A group that imports each subcommand's module only when that subcommand is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr = COMMANDS[name].split(":")
        return getattr(importlib.import_module(module), attr)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """click's main, with its usage errors (several lines, exit 2) as one line and signals cleaned up."""
        if not standalone_mode:  # a caller that handles click's exceptions itself
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        argv = list(sys.argv[1:] if args is None else args)
        with signal_cleanup(), warnings.catch_warnings():
            if "--debug" not in argv:
                warnings.simplefilter("ignore")
            try:
                rv = super().main(argv, prog_name, complete_var, False, **extra)
            except click.ClickException as exc:
                where = exc.ctx.command_path if getattr(exc, "ctx", None) is not None else "dnnc"
                msg = " ".join(exc.format_message().split())
                click.echo(f"{where}: error: {msg}", err=True)
                sys.exit(2)
            except click.Abort:  # EOF on a prompt
                click.echo("dnnc: aborted", err=True)
                sys.exit(1)
            except (Interrupted, Exception):  # Interrupted, or what a C extension made of it
                signum = raised_signal()
                if signum is None:
                    raise
                _interrupted(signum)
        sys.exit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except DnncError as exc:
            if raised_signal() is not None or (ctx.obj and ctx.obj.get("debug")):  # interruption: see main
                raise
            click.echo(f"dnnc: error: {' '.join(str(exc).split())}", err=True)  # one line, always
            sys.exit(2)


def _interrupted(signum: int) -> NoReturn:
    remove_temporaries()
    click.echo(f"dnnc: interrupted by {signal.Signals(signum).name}; temporary outputs removed", err=True)
    sys.exit(128 + signum)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.version_option(__version__, prog_name="dnnc")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """dnnc: train discrete-weight sign networks and compile them to bit-exact C and HLS."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


if __name__ == "__main__":  # pragma: no cover
    main()
