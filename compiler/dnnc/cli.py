"""The `dnnc` command line: a click group whose subcommands live one per module in dnnc.commands.

Every subcommand is a thin wrapper over importable functions. Errors meant for users (DnncError,
click usage errors) print one line and exit with status 2; `--debug` shows the traceback instead.
"""

from __future__ import annotations

import importlib
import sys

import click

from dnnc import __version__
from dnnc.errors import DnncError

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

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except DnncError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"dnnc: error: {exc}", err=True)
            sys.exit(2)


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
