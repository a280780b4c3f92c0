"""The root ``dcctl`` command: global options, sub-command groups, and the one error boundary.

Every error that reaches the boundary becomes a message on stderr and an exit code from
:class:`dcctl.errors.ExitCode`; a Python traceback is shown only for bugs, and only with -v.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from dcctl import __version__
from dcctl.cli import help_style
from dcctl.cli.state import State
from dcctl.errors import DcctlError, ExitCode, InputFileError
from dcctl.render.diagnostics import render_text, summary_line
from dcctl.render.writers import WRITERS

#: ``-o`` choices: every registered output writer.
OutputFormat = StrEnum("OutputFormat", [(name, name) for name in WRITERS])  # type: ignore[misc]
_TABLE = OutputFormat("table")

#: Options of the root command that may also be written after a sub-command.
VALUE_OPTIONS = ("-i", "--inventory", "-o", "--output")
FLAG_OPTIONS = ("--no-color", "-v", "-vv", "-vvv", "--verbose", "-q", "--quiet", "--version")
help_style.install()


def hoist_global_options(args: Sequence[str]) -> list[str]:
    """Move global options written after a sub-command to the front.

    So ``dcctl inventory list --output json`` works like ``dcctl --output json inventory list``.
    """
    front: list[str] = []
    rest: list[str] = []
    i = 0
    args = list(args)
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        name = arg.split("=", 1)[0]
        if name in VALUE_OPTIONS:
            front.append(arg)
            if "=" not in arg and i + 1 < len(args):
                front.append(args[i + 1])
                i += 1
        elif arg in FLAG_OPTIONS or (
            len(arg) > 2 and arg[:2] in ("-i", "-o") and not arg.startswith("--")
        ):
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


def report_error(state: State, exc: DcctlError) -> None:
    """Print a DcctlError for people (stderr)."""
    if isinstance(exc, InputFileError):
        render_text(state.err, exc.diagnostics)
        files = sorted({d.loc.file for d in exc.diagnostics if d.loc})
        where = f"{exc.kind} {files[0]}" if files else exc.kind
        state.err.print(escape(summary_line(where, exc.diagnostics)), soft_wrap=True)
        return
    state.err.print(f"[red]dcctl: error:[/red] {escape(str(exc))}", soft_wrap=True)


class DcctlGroup(TyperGroup):
    """The root group: hoists global options and turns errors into exit codes."""

    def main(self, args: Sequence[str] | None = None, *a: Any, **kw: Any) -> Any:
        """Run the CLI with global options hoisted."""
        if args is None:
            args = sys.argv[1:]
        self.raw_args = list(args)  # what was typed (``dcctl run`` checks for its ``--``)
        return super().main(hoist_global_options(args), *a, **kw)

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        """Parse the root options; a usage error exits with INVALID_INPUT, as every bad input."""
        try:
            return super().make_context(*args, **kwargs)
        except typer.TyperException as exc:
            exc.exit_code = int(ExitCode.INVALID_INPUT)
            raise

    # Typer always passes its own Context (a subclass of its vendored click's): narrower than
    # the base signature, hence the ignore.
    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        """Invoke, mapping every error to a message and an exit code (the one boundary)."""
        try:
            return super().invoke(ctx)
        except typer.TyperException as exc:  # a usage error in a sub-command's options
            exc.exit_code = int(ExitCode.INVALID_INPUT)
            raise
        except (typer.Exit, typer.Abort):
            raise
        except DcctlError as exc:
            report_error(_state(ctx), exc)
            raise typer.Exit(int(exc.exit_code)) from None
        except BrokenPipeError:  # the reader went away (`dcctl ... | head`): stop quietly
            _silence_stdout()
            raise typer.Exit(int(ExitCode.PIPE_CLOSED)) from None
        except KeyboardInterrupt:
            _state(ctx).err.print("dcctl: interrupted")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except Exception as exc:  # a bug: say so, show the traceback only with -v
            state = _state(ctx)
            state.err.print(
                f"[red]dcctl: internal error:[/red] {escape(type(exc).__name__)}: "
                f"{escape(str(exc))}",
                soft_wrap=True,
            )
            if state.verbose:
                state.err.print(escape("".join(traceback.format_exc())), soft_wrap=True)
            else:
                state.err.print("This is a bug in dcctl; run again with -v to see the traceback.")
            raise typer.Exit(int(ExitCode.INTERNAL)) from None


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _state(ctx: typer.Context) -> State:
    state = ctx.find_object(State)
    return state if state is not None else State()


app = typer.Typer(
    cls=DcctlGroup,
    name="dcctl",
    help="Ops toolkit for GPU data centers: inventory, probing, planning, playbooks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dcctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    inventory: Annotated[
        str | None,
        typer.Option(
            "-i",
            "--inventory",
            metavar="FILE",
            help="Inventory file (default: $DCCTL_INVENTORY, else ./inventory.yaml).",
        ),
    ] = None,
    output: Annotated[
        OutputFormat,
        typer.Option(
            "-o",
            "--output",
            help="Result format: " + "; ".join(f"{w.name}: {w.help}" for w in WRITERS.values()),
        ),
    ] = _TABLE,
    no_color: Annotated[
        bool,
        typer.Option(
            "--no-color", help="No colour (also when NO_COLOR is set or output is not a TTY)."
        ),
    ] = False,
    verbose: Annotated[
        int,
        typer.Option("-v", "--verbose", count=True, help="More detail; shows tracebacks of bugs."),
    ] = 0,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only results and errors.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Global options; they may be written before or after the sub-command."""
    ctx.obj = State.create(inventory, output.value, no_color, verbose, quiet)
