"""The ``alkld`` command line: a thin layer over the library, one call per command.

Exit codes: 0 = ok, 1 = violations (SHACL or ontology), 2 = bad input or configuration,
128 + N = stopped by signal N (130 for Ctrl-C, 143 for SIGTERM), after the command's own
clean-up (a build leaves ``--out`` as it was). Heavy modules (the server stack, exporters)
are imported only when their command runs: :class:`LazyGroup` maps each command name to
``module:attribute`` of a :class:`click.Command`.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

import click

from alkld import __version__
from alkld.errors import AlkldError

__all__ = ["Interrupted", "LazyGroup", "main"]


class Interrupted(KeyboardInterrupt):
    """A stop asked for by a signal (SIGTERM, SIGHUP), raised where the main thread is.

    A subclass of :class:`KeyboardInterrupt`, so that it unwinds the command as Ctrl-C does:
    every ``finally`` runs (a build removes its staging directory and stops its pool).
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted(signum)


@contextlib.contextmanager
def _signals_stop_the_command() -> Iterator[None]:
    """SIGTERM and SIGHUP stop the command as Ctrl-C does, instead of killing the process.

    Killed outright, a build would leave its staging directory (gigabytes at 100k cases)
    and its pool's workers behind. Only in the main thread (signal handlers can be set
    nowhere else); handlers set before (and ignored signals, e.g. under ``nohup``) are kept.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is signal.SIG_DFL:
            saved[sig] = signal.signal(sig, _raise_interrupted)
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _stopped(signum: int) -> int:
    """Say that the command was stopped by ``signum``; return its exit code, 128 + it."""
    click.echo(f"interrupted ({signal.Signals(signum).name}): stopped", err=True)
    return 128 + signum


def _exit_now_if_threads_hang(code: int) -> None:
    """Exit at once if threads of the stopped command still run (e.g. a request in flight).

    The command has cleaned up (its ``finally`` blocks ran). The interpreter would
    otherwise wait for such threads at exit: a publisher's request to a store that does not
    answer holds it for up to the request's timeout.
    """
    left = [t for t in threading.enumerate()
            if t is not threading.main_thread() and t.is_alive() and not t.daemon]
    if left:
        logging.getLogger(__name__).debug(
            "exiting without waiting for %s", ", ".join(t.name for t in left))
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


#: Command name → "module:attribute" of its click command, imported on first use.
COMMANDS: dict[str, str] = {
    "build": "alkld.pipeline_cli:build_command",
    "validate": "alkld.pipeline_cli:validate_command",
    "query": "alkld.pipeline_cli:query_command",
    "serve": "alkld.publish.server_cli:serve_command",
    "map": "alkld.mapping.map_cli:map_command",
    "synth": "alkld.synth:synth_command",
    "publish": "alkld.store.remote_cli:publish_command",
    "export": "alkld.interop.cli:export_group",
    "import": "alkld.interop.cli:import_group",
}


class LazyGroup(click.Group):
    """A group whose commands are imported when they run (keeps ``alkld --help`` fast)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attr = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name and module_name.startswith(e.name):
                raise click.ClickException(f"command {cmd_name!r} is not available: {e}") from e
            raise
        command: click.Command = getattr(module, attr)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AlkldError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(e.exit_code)
        except KeyboardInterrupt as e:  # Ctrl-C, or Interrupted by SIGTERM / SIGHUP
            code = _stopped(e.signum if isinstance(e, Interrupted) else signal.SIGINT)
            _exit_now_if_threads_hang(code)
            ctx.exit(code)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="alkld")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
def cli(verbose: int, quiet: bool) -> None:
    """alkld: publish ALK-positive tumour case reports as validated linked data.

    \b
    Exit codes: 0 ok, 1 violations (nothing published), 2 bad input or configuration,
    128+N stopped by signal N (130 Ctrl-C, 143 SIGTERM).
    """
    level = logging.ERROR if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr, force=True)


#: Commands that restart once with the native allocator preloaded (:mod:`alkld.native`).
REEXEC_COMMANDS = frozenset({"build"})


def _command(argv: list[str]) -> str | None:
    """The command word of ``argv`` (the first argument that is not a global option)."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return its exit code.

    Run from the shell (``argv`` None), ``alkld build`` first restarts itself with the native
    allocator preloaded (:func:`alkld.native.reexec`); a call with ``argv`` runs in-process.
    """
    if argv is None and _command(sys.argv[1:]) in REEXEC_COMMANDS:
        from alkld.native import reexec

        try:
            reexec([sys.executable, "-m", "alkld", *sys.argv[1:]])
        except AlkldError as e:
            click.echo(f"error: {e}", err=True)
            return e.exit_code
    try:
        with _signals_stop_the_command():
            cli.main(args=argv, prog_name="alkld", standalone_mode=True)
    except SystemExit as e:
        return int(e.code or 0)
    except Interrupted as e:  # arrived outside the command (click reports Ctrl-C itself)
        return _stopped(e.signum)
    return 0
