"""The ``zoo`` command: the parser, the table of what runs each command, threads, and ``main``.

Library code logs; only the command line prints. The parser is built from the group modules, which hold plain
data; what a command does is imported from the module :data:`RUN` names only when that command runs, so that
``zoo --help``, ``zoo --version`` and ``zoo COMMAND --help`` never import torch (benchmarks/bench_startup.py).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence

from zoo._signals import terminate_cleanly
from zoo._text import TerminalFormatter
from zoo._version import __version__
from zoo.cli import eval as eval_group
from zoo.cli import export, generate, hub, registry, train
from zoo.cli._common import UsageError, ZooParser, command_of, did_you_mean, load, one_line
from zoo.cli._errors import failure_of

logger = logging.getLogger("zoo.cli")

# Each group adds its commands' parsers, in this order in `zoo --help`.
GROUPS = (registry, train, generate, eval_group, hub, export)

# What runs each command, as "module:function", imported only when that command runs (zoo.cli._common.load).
RUN: dict[str, str] = {
    "list": "zoo.cli._run_registry:list_models",
    "datasets": "zoo.cli._run_registry:datasets",
    "info": "zoo.cli._run_registry:info",
    "plugins": "zoo.cli._run_registry:plugins",
    "train": "zoo.cli._run_train:run_train",
    "sample": "zoo.cli._run_generate:sample",
    "reconstruct": "zoo.cli._run_generate:reconstruct",
    "encode": "zoo.cli._run_generate:encode",
    "interpolate": "zoo.cli._run_generate:interpolate",
    "eval": "zoo.cli._run_eval:evaluate",
    "push": "zoo.cli._run_hub:push",
    "pull": "zoo.cli._run_hub:pull",
    "publish": "zoo.cli._run_hub:publish",
    "export": "zoo.cli._run_export:export",
}

# Commands that compute with torch: they take --threads and get a thread count chosen for the machine (export's
# onnxruntime check runs with torch's thread count too).
COMPUTE_COMMANDS = ("train", "sample", "reconstruct", "encode", "interpolate", "eval", "export")
MAX_DEFAULT_THREADS = 4
QUIET_HELP = "print nothing but the requested output and errors"
VERBOSE_HELP = "show debug logging and full tracebacks"


# -- the parser -------------------------------------------------------------------------------------------------


def build_parser() -> ZooParser:
    parser = ZooParser(
        prog="zoo",
        description="A plugin-based model zoo for PyTorch autoencoders and GANs.",
        epilog="Run `zoo COMMAND --help` for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}",
                        help="print the installed version (genzoo) and exit")
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    parser.add_argument("-q", "--quiet", action="store_true", help=QUIET_HELP)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in GROUPS:
        group.add_parsers(commands)
    for name, sub in commands.choices.items():
        # -q and -v work before and after the command; SUPPRESS keeps a command from resetting `zoo -q CMD`.
        for action in sub._actions:
            if action.dest in ("quiet", "verbose"):
                action.default = argparse.SUPPRESS
        names = {option for action in sub._actions for option in action.option_strings}
        if "--quiet" not in names:
            sub.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=QUIET_HELP)
        if "--verbose" not in names:
            sub.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
        if name in COMPUTE_COMMANDS and "--threads" not in names:
            sub.add_argument("--threads", type=int, default=None, metavar="N",
                             help="CPU threads for torch (default: up to 4, fewer when the machine is busy; "
                             "OMP_NUM_THREADS also sets it)")
    return parser


def _parse(parser: ZooParser, argv: Sequence[str] | None) -> argparse.Namespace:
    _check_long_options(parser, list(sys.argv[1:] if argv is None else argv))
    args, extras = parser.parse_known_args(argv)
    if extras:
        sub = _subparser(parser, args.command)
        options = sub.option_names() if sub is not None else parser.option_names()
        first = extras[0]
        hint = did_you_mean(first.split("=", 1)[0], options) if first.startswith("-") else ""
        prog = sub.prog if sub is not None else parser.prog
        raise UsageError(f"{command_of(prog)}unrecognized arguments: {' '.join(extras)}{hint} "
                         f"(see `{prog} --help`)")
    return args


def _check_long_options(parser: ZooParser, argv: list[str]) -> None:
    """Refuse an unknown --option first, with the closest one, before argparse reports a missing argument."""
    target = parser
    for token in argv:
        if token == "--":
            return
        if target is parser and not token.startswith("-"):
            sub = _subparser(parser, token)
            if sub is None:
                return  # an unknown command: argparse says so, with a suggestion
            target = sub
            continue
        if not token.startswith("--") or token in ("--help",):
            continue
        name = token.split("=", 1)[0]
        options = target.option_names()
        if name in options or sum(option.startswith(name) for option in options) == 1:
            continue  # argparse accepts an unambiguous prefix
        raise UsageError(f"{command_of(target.prog)}unrecognized arguments: {name}{did_you_mean(name, options)} "
                         f"(see `{target.prog} --help`)")


def _subparser(parser: ZooParser, command: str | None) -> ZooParser | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            found = action.choices[command]
            return found if isinstance(found, ZooParser) else None
    return None


# -- threads ----------------------------------------------------------------------------------------------------


def choose_threads(requested: int | None, *, environ: dict[str, str] | None = None, cores: int | None = None,
                   load: float | None = None) -> tuple[int | None, str]:
    """The torch thread count for this process and why; None leaves torch's own choice (OMP_NUM_THREADS).

    ``--threads`` wins; then OMP_NUM_THREADS; else the cores this process may use, at most 4, minus the load
    other processes put on them (``os.getloadavg``): on a machine another training already keeps busy, torch's
    default of one thread per core makes both runs many times slower.
    """
    environ = dict(os.environ) if environ is None else environ
    if requested is not None:
        if not 1 <= requested <= 1024:
            raise UsageError(f"--threads {requested}: give between 1 and 1024 threads")
        return requested, f"--threads {requested}"
    if environ.get("OMP_NUM_THREADS", "").strip():
        return None, f"OMP_NUM_THREADS={environ['OMP_NUM_THREADS']}"
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if load is None:
        try:
            load = os.getloadavg()[0]
        except OSError:
            load = 0.0
    idle = max(1, int(cores - load + 0.5))
    threads = max(1, min(cores, MAX_DEFAULT_THREADS, idle))
    if threads < min(cores, MAX_DEFAULT_THREADS):
        return threads, (f"the machine is busy (load {load:.1f} on {cores} cores): using {threads} thread(s); "
                         "set --threads N or OMP_NUM_THREADS=N to choose")
    return threads, f"{threads} thread(s) on {cores} cores (set --threads N or OMP_NUM_THREADS=N to choose)"


def _configure_threads(args: argparse.Namespace) -> None:
    if args.command not in COMPUTE_COMMANDS:
        return
    threads, why = choose_threads(getattr(args, "threads", None))
    if threads is None:
        logger.debug("threads: %s", why)
        return
    import torch  # the command about to run computes with torch: it is loaded, or about to be

    torch.set_num_threads(threads)
    (logger.info if why.startswith("the machine is busy") else logger.debug)("threads: %s", why)


# -- main -------------------------------------------------------------------------------------------------------


def _configure_logging(args: argparse.Namespace) -> None:
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    # Log lines name folders and config values: escaped, like everything the command line prints. (basicConfig
    # leaves a program's own handlers alone when main runs inside it.)
    handler = logging.StreamHandler()
    handler.setFormatter(TerminalFormatter("%(levelname)s %(name)s: %(message)s" if args.verbose else "%(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
    logging.getLogger().setLevel(level)  # also when logging was configured before (main called in-process)
    for name in ("httpx", "httpx2", "httpcore", "httpcore2", "huggingface_hub"):  # a request line each: -v only
        logging.getLogger(name).setLevel(logging.NOTSET if args.verbose else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``zoo`` command line on ``argv`` (default: ``sys.argv[1:]``) and return its exit status."""
    parser = build_parser()
    try:
        args = _parse(parser, argv)
    except UsageError as exc:
        print(f"zoo: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else 0
    _configure_logging(args)
    try:
        with terminate_cleanly():  # SIGTERM and SIGHUP unwind as zoo._signals.Terminated
            _configure_threads(args)
            run: Callable[[argparse.Namespace], int] = load(RUN[args.command])
            return int(run(args) or 0)
    except (Exception, KeyboardInterrupt) as exc:
        failure = failure_of(exc)
        if failure.traceback and args.verbose:
            raise
        if failure.message is None:
            sys.stderr.close()
        else:
            print(f"zoo: error: {one_line(failure.message)}", file=sys.stderr)
        return failure.status
