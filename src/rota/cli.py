"""The ``rota`` command line: ``main``, the console script.

Cron starts ``rota run`` every minute, so its start-up is part of the
product. ``main`` recognises the plain form, ``rota [--app REF] [--store
URL] [--log-level LEVEL] run [-c N]``, and runs it without importing click;
anything else (``--help``, other commands, other spellings, a bad value)
goes to the click group ``rota._cli_commands.cli``, which also runs ``rota
run`` and whose output, errors and exit codes the plain path reproduces
byte for byte (``tests/e2e/test_run_fast_path.py`` holds them together).
``cli``, ``fail``, ``handle_errors`` and ``load_app`` are importable from
here as before; they load click on first access.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from typing import TextIO

    from rota._cli_commands import cli, fail, handle_errors, load_app
    from rota.errors import RotaError

_GLOBAL_OPTIONS = ("--app", "--store", "--log-level")
_LOG_LEVELS = ("debug", "info", "warning", "error")  # the click group's --log-level choices
_MAX_CONCURRENCY = 1024  # the click command's --concurrency range is 1..1024
_CLICK_NAMES = ("cli", "fail", "handle_errors", "load_app")


class PlainRun(NamedTuple):
    """The options of a plain ``rota run``, as the click group would have parsed them."""

    app: str | None = None
    store: str | None = None
    log_level: str | None = None
    concurrency: int | None = None


def main() -> None:
    """The ``rota`` console script."""
    plain = None if "_ROTA_COMPLETE" in os.environ else parse_plain_run(sys.argv[1:])
    if plain is None:
        from rota._cli_commands import cli

        cli.main(prog_name="rota")
    else:
        sys.exit(run_plain(plain))


def parse_plain_run(args: list[str]) -> PlainRun | None:
    """``args`` as a plain ``rota run``, or None when click must parse them.

    Only the spellings the click group accepts the same way are taken:
    each global option at most once, with a non-empty value that does not
    start with ``-``, before ``run``; after it, at most one ``-c N``
    (``-cN``, ``--concurrency N``, ``--concurrency=N``) with N in range.
    """
    given: dict[str, str] = {}
    at = 0
    while at < len(args) and args[at] != "run":
        name, equals, value = args[at].partition("=")
        if name not in _GLOBAL_OPTIONS or name in given:
            return None
        if not equals:
            at += 1
            value = args[at] if at < len(args) else ""
        if not value or value.startswith("-"):
            return None
        given[name] = value
        at += 1
    if at == len(args):
        return None
    level = given.get("--log-level")
    if level is not None:
        level = next((c for c in _LOG_LEVELS if c == level.casefold()), None)
        if level is None:
            return None
    concurrency = _concurrency(args[at + 1 :])
    if concurrency == 0:
        return None
    return PlainRun(given.get("--app"), given.get("--store"), level, concurrency)


def _concurrency(args: list[str]) -> int | None:
    """``run``'s own options: None for none, 0 for anything the plain path does not take."""
    if not args:
        return None
    if len(args) == 2 and args[0] in ("-c", "--concurrency"):
        text = args[1]
    elif len(args) == 1 and args[0].startswith("--concurrency="):
        text = args[0].partition("=")[2]
    elif len(args) == 1 and args[0].startswith("-c") and not args[0].startswith("--"):
        text = args[0][2:]
    else:
        return 0
    if not (text.isascii() and text.isdigit()):
        return 0
    value = int(text)
    return value if 1 <= value <= _MAX_CONCURRENCY else 0


def run_plain(plain: PlainRun) -> int:
    """Run ``rota run`` as the click command does; its exit code.

    Mirrors click's standalone mode: a ``RotaError`` is one ``error:`` line
    and its code; Ctrl-C or end of input before the pass handles signals
    prints ``Aborted!`` and exits 1; a closed stdout (``rota run | head``)
    exits 1 quietly. Any other exception propagates, as it does through
    click.
    """
    from rota._cli_pass import configure_logging, load, run_pass
    from rota.errors import RotaError

    try:
        try:
            configure_logging(plain.log_level or "warning")
            app = load(plain.app, plain.store, plain.concurrency)
            _write(sys.stdout, run_pass(app))
        except RotaError as error:
            _write(sys.stderr, error_line(error))
            return error.exit_code
        except (EOFError, KeyboardInterrupt):
            _write(sys.stderr, "")
            _write(sys.stderr, "Aborted!")
            return 1
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
        _silence_closed_pipes()
        return 1
    return 0


def error_line(error: RotaError) -> str:
    """``error: <message>``, the message on one line: how the CLI reports a ``RotaError``."""
    return f"error: {' '.join(str(error).splitlines())}"


def _write(stream: TextIO, line: str) -> None:
    """``click.echo(line)``: the line and a newline, flushed."""
    stream.write(line + "\n")
    stream.flush()


def _silence_closed_pipes() -> None:
    """What click does on EPIPE: later flushes (interpreter exit) must not complain."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            os.dup2(devnull, stream.fileno())


def __getattr__(name: str) -> object:
    if name not in _CLICK_NAMES:
        raise AttributeError(f"module 'rota.cli' has no attribute {name!r}")
    from rota import _cli_commands

    value = getattr(_cli_commands, name)
    globals()[name] = value  # later lookups skip this function
    return value


__all__ = [
    "PlainRun",
    "cli",
    "error_line",
    "fail",
    "handle_errors",
    "load_app",
    "main",
    "parse_plain_run",
    "run_plain",
]
