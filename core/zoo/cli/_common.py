"""What every command group shares: the parser class, usage errors, status lines and the one deferred import.

Group modules (``registry``, ``train``, ``generate``, ``eval``, ``hub``, ``export``) build their parsers from
this module's pieces and plain data only; the code that runs a command lives in a ``_run_*`` module that
:func:`load` imports when that command runs, so that ``zoo --help`` and ``zoo COMMAND --help`` never import torch.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import re
from collections.abc import Sequence
from typing import Any, NoReturn, TextIO

from zoo._rundir import RunDir
from zoo._text import escape_lines, shown
from zoo.errors import ConfigError

# Positional and option help that several commands share.
SOURCE_HELP = "run directory, NAME, NAME.TAG or hf-hub:org/repo[@rev]"
DEFAULT_DATA = "mnist-5k"
RUN_DATA_HELP = ("dataset name or file (default: the data a run directory was trained on, recorded in its "
                 "train_config.json; else mnist-5k)")


class UsageError(Exception):
    """A command line argparse refused; ``str()`` is the one-line message."""


class ZooParser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of printing usage and exiting, and suggests close names.

    ``epilog_from`` names (as ``module:function``, see :func:`load`) a function whose text is appended to the
    epilog when help is shown: ``zoo train --help`` lists the training fields without every command importing
    the training config.
    """

    def __init__(self, *args: Any, epilog_from: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.epilog_from = epilog_from

    def error(self, message: str) -> NoReturn:
        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if choice:
            options = re.findall(r"'([^']*)'", choice.group(2))
            message += did_you_mean(choice.group(1), options)
        raise UsageError(f"{command_of(self.prog)}{message} (see `{self.prog} --help`)")

    def format_help(self) -> str:
        if self.epilog_from is not None:
            more = load(self.epilog_from)()
            self.epilog = f"{self.epilog}\n\n{more}" if self.epilog else more
            self.epilog_from = None
        return super().format_help()

    def option_names(self) -> list[str]:
        return sorted({name for action in self._actions for name in action.option_strings})


def load(reference: str) -> Any:
    """The object ``"module:name"`` names, importing its module now.

    The command line's one deferred import: ``zoo.cli._main.RUN`` names each command's function this way, and
    :class:`ZooParser` its help epilogs, so that a command's dependencies (torch, the registry, the Hub client,
    pydantic models) load only when that command runs or shows that help.
    """
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


def command_of(prog: str) -> str:
    """"train: " for the parser of `zoo train`, "" for the top-level one (the line already starts with zoo:)."""
    command = prog.partition(" ")[2]
    return f"{command}: " if command else ""


def did_you_mean(word: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, [o for o in options if o != word], n=2, cutoff=0.6)
    return f"; did you mean {' or '.join(close)}?" if close else ""


def one_line(text: str) -> str:
    """One printable line: whitespace collapsed, control characters (terminal escapes from paths) escaped."""
    return shown(" ".join(text.split()), limit=4000)


def say(text: str, *, file: TextIO | None = None) -> None:
    """Print ``text`` with the control characters in each line escaped.

    What a command prints often holds text a user, a plugin or a server chose (folder names, descriptions, config
    values, a Hub's answers): escaped, a hostile name cannot move the cursor, retitle the window or hide text.
    """
    print(escape_lines(text), file=file)


def report(args: argparse.Namespace, message: str) -> None:
    """Print a status line (what was written where) unless ``-q`` asked for quiet."""
    if not getattr(args, "quiet", False):
        say(message)


def data_of(args: argparse.Namespace) -> str:
    """``--data``; else, for a run directory, the data it was trained on (its ``train_config.json``); else mnist-5k.

    Evaluating or reconstructing a run on other data than it learned is rarely what was meant, and a model built
    for another image shape fails on mnist-5k.
    """
    if args.data is not None:
        return str(args.data)
    run = RunDir(args.source)
    if not (run.root.is_dir() and run.train_config.exists()):
        return DEFAULT_DATA
    try:
        recorded = run.read_train_config().get("data")
    except ConfigError as exc:
        raise ConfigError(f"cannot tell which data {args.source} was trained on ({exc}); give it with --data"
                          ) from None
    if not isinstance(recorded, str) or not recorded:
        raise ConfigError(f"{run.train_config} records no dataset name under 'data'; give the data with --data")
    return recorded
