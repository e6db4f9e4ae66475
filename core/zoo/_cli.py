"""The ``zoo`` command line. Library code logs; only this module (and the _cli_* modules) prints.

Every expected failure ends in one ``zoo: error: ...`` line on stderr and a non-zero exit status: usage errors
(with the closest option or command suggested) exit 2, like :class:`zoo.errors.ZooError` and file-system errors;
Ctrl-C exits 130, SIGTERM and SIGHUP 128 + the signal number (temporary files removed). Anything unexpected is
reported in one line too; ``-v`` shows its traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import errno
import json
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NoReturn

from zoo.errors import ZooError

Handler = Callable[[argparse.Namespace], int]
logger = logging.getLogger("zoo.cli")

# Commands that compute with torch: they take --threads and get a thread count chosen for the machine.
COMPUTE_COMMANDS = ("train", "sample", "reconstruct", "encode", "interpolate", "eval")
MAX_DEFAULT_THREADS = 4


class UsageError(Exception):
    """A command line argparse refused; ``str()`` is the one-line message."""


class ZooParser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of printing usage and exiting, and suggests close names.

    ``epilog_factory`` builds the epilog when help is shown, so that the help of ``zoo train`` can list the
    training fields without importing them for every command.
    """

    def __init__(self, *args: Any, epilog_factory: Callable[[], str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.epilog_factory = epilog_factory

    def error(self, message: str) -> NoReturn:
        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if choice:
            options = re.findall(r"'([^']*)'", choice.group(2))
            message += _did_you_mean(choice.group(1), options)
        raise UsageError(f"{_command_of(self.prog)}{message} (see `{self.prog} --help`)")

    def format_help(self) -> str:
        if self.epilog_factory is not None:
            self.epilog = self.epilog_factory()
            self.epilog_factory = None
        return super().format_help()

    def option_names(self) -> list[str]:
        return sorted({name for action in self._actions for name in action.option_strings})


def _command_of(prog: str) -> str:
    """"train: " for the parser of `zoo train`, "" for the top-level one (the line already starts with zoo:)."""
    command = prog.partition(" ")[2]
    return f"{command}: " if command else ""


def _did_you_mean(word: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, [o for o in options if o != word], n=2, cutoff=0.6)
    return f"; did you mean {' or '.join(close)}?" if close else ""


def report(args: argparse.Namespace, message: str) -> None:
    """Print a status line (what was written where) unless ``-q`` asked for quiet."""
    if not getattr(args, "quiet", False):
        print(message)


# -- commands ---------------------------------------------------------------------------------------------------


def _cmd_list(args: argparse.Namespace) -> int:
    from zoo._registry import get_registry

    registry = get_registry()
    if args.pretrained:
        for name in sorted(registry.weights):
            entry = registry.weights[name]
            print(f"{name:28s} {getattr(entry, 'summary', '')}")
        return 0
    import fnmatch

    for name in sorted(registry.models):
        if fnmatch.fnmatchcase(name, args.pattern):
            spec = registry.models[name]
            print(f"{name:20s} {spec.kind or '':24s} {spec.description}")
    return 0


def _cmd_datasets(args: argparse.Namespace) -> int:
    from zoo._registry import get_registry
    from zoo.data import load_dataset
    from zoo.data._stream import StreamedData

    registry = get_registry()
    print(f"{'dataset':14s} {'train':>7s} {'test':>7s}  {'image (C,H,W)':14s} {'classes':8s} description")
    for name in sorted(registry.datasets):
        spec = registry.datasets[name]
        try:
            train, test = load_dataset(name, "train"), load_dataset(name, "test")
        except (ZooError, ImportError, OSError) as exc:
            print(f"{name:14s} {'?':>7s} {'?':>7s}  {'?':14s} {'?':8s} {spec.description} (cannot load: {exc})")
            continue
        full_shape = train.shape if isinstance(train, StreamedData) else tuple(train.images.shape)
        shape = "x".join(str(d) for d in full_shape[1:])
        labels = train.labels
        classes = str(len(set(labels.tolist()))) if labels is not None else "none"
        print(f"{name:14s} {len(train):7,d} {len(test):7,d}  {shape:14s} {classes:8s} {spec.description}")
    print("\nAny .npy/.npz/.pt file or folder of images works too: see docs/data.md for the accepted forms, "
          "labels and the test hold-out.")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    import zoo

    if "." in args.name:  # a pretrained entry, architecture.tag
        from zoo._registry import get_registry

        entry = get_registry().weights_entry(args.name)
        print(entry.to_json() if hasattr(entry, "to_json") else repr(entry), end="")
        return 0
    details = zoo.info(args.name)
    if args.json:
        print(json.dumps(details, indent=2))
        return 0
    print(f"{details['name']} ({details['kind']}) from {details['distribution']} {details['version']}")
    if details["description"]:
        print(f"  {details['description']}")
    print("model config fields (zoo train --set FIELD=VALUE, or zoo.create(NAME, FIELD=VALUE)):")
    for field, schema in details["config_schema"].get("properties", {}).items():
        bounds = ", ".join(f"{k} {schema[k]}" for k in ("minimum", "maximum", "enum") if k in schema)
        print(f"  {field:22s} default {json.dumps(schema.get('default'))}" + (f" ({bounds})" if bounds else ""))
    print("pretrained: " + (", ".join(details["pretrained"]) or "none yet"))
    from zoo._cli_train import training_fields_help

    print()
    print(training_fields_help())
    return 0


def _cmd_plugins(args: argparse.Namespace) -> int:
    from zoo._registry import ENV_STRICT, _env_flag, build_registry
    from zoo._text import shown

    # Every problem in the table, once: not the first one only (strict mode), nor each again as a warning.
    registry_logger = logging.getLogger("zoo._registry")
    level = registry_logger.level
    registry_logger.setLevel(logging.ERROR)
    try:
        rows = build_registry(strict=False).plugins
    finally:
        registry_logger.setLevel(level)
    print(f"{'plugin':18s} {'distribution':24s} {'version':10s} {'status':8s} error")
    for p in rows:
        print(f"{p.name:18s} {p.distribution:24s} {p.version:10s} {p.status:8s} {shown(p.error, limit=2000)}")
    broken = any(p.status == "broken" for p in rows)
    return 1 if broken and (args.check or _env_flag(ENV_STRICT)) else 0


# -- the parser -------------------------------------------------------------------------------------------------


def build_parser() -> ZooParser:
    parser = ZooParser(
        prog="zoo",
        description="A plugin-based model zoo for PyTorch autoencoders and GANs.",
        epilog="Run `zoo COMMAND --help` for the options of one command.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug logging and full tracebacks")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing but the requested output and errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = commands.add_parser("list", help="list the installed architectures")
    p.add_argument("pattern", nargs="?", default="*", help="fnmatch pattern, e.g. 'dense-*' (default: all)")
    p.add_argument("--pretrained", action="store_true", help="list pretrained registry entries instead")
    p.set_defaults(handler=_cmd_list)

    p = commands.add_parser("datasets", help="list the registered datasets with their splits and sizes",
                            description="List every registered dataset: train and test sizes, image shape, "
                            "number of classes. User files and image folders are described in docs/data.md.")
    p.set_defaults(handler=_cmd_datasets)

    p = commands.add_parser("info", help="show an architecture's provider, config fields and pretrained tags, "
                            "and the training fields")
    p.add_argument("name", help="architecture name, e.g. dense-gan, or a pretrained entry, e.g. dense-gan.mnist5k")
    p.add_argument("--json", action="store_true", help="print everything as JSON")
    p.set_defaults(handler=_cmd_info)

    p = commands.add_parser("plugins", help="list plugins with their distribution, version and status")
    p.add_argument("--check", action="store_true", help="exit 1 if any plugin is broken (so does ZOO_STRICT_PLUGINS=1)")
    p.set_defaults(handler=_cmd_plugins)

    for register in _command_modules():
        register(commands)
    train = commands.choices.get("train")
    if isinstance(train, ZooParser):
        train.epilog_factory = _train_epilog(train.epilog or "")
    for name, sub in commands.choices.items():
        # -q and -v work before and after the command; SUPPRESS keeps a command from resetting `zoo -q CMD`.
        for action in sub._actions:
            if action.dest in ("quiet", "verbose"):
                action.default = argparse.SUPPRESS
        names = {option for action in sub._actions for option in action.option_strings}
        if "--quiet" not in names:
            sub.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                             help="print nothing but the requested output and errors")
        if "--verbose" not in names:
            sub.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                             help="show debug logging and full tracebacks")
        if name in COMPUTE_COMMANDS and "--threads" not in names:
            sub.add_argument("--threads", type=int, default=None, metavar="N",
                             help="CPU threads for torch (default: up to 4, fewer when the machine is busy; "
                             "OMP_NUM_THREADS also sets it)")
    return parser


def _train_epilog(examples: str) -> Callable[[], str]:
    def build() -> str:
        from zoo._cli_train import training_fields_help

        return f"{examples}\n\n{training_fields_help()}\n\nmodel fields and their ranges: zoo info NAME"

    return build


def _command_modules() -> list[Callable[[argparse._SubParsersAction], None]]:
    # Each module only builds its argparse parsers at import; heavy imports happen inside handlers.
    registrars = []
    for module_name in ("zoo._cli_train", "zoo._cli_hub", "zoo._cli_eval"):
        try:
            module = __import__(module_name, fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        registrars.append(module.register)
    return registrars


def _parse(parser: ZooParser, argv: Sequence[str] | None) -> argparse.Namespace:
    _check_long_options(parser, list(sys.argv[1:] if argv is None else argv))
    args, extras = parser.parse_known_args(argv)
    if extras:
        sub = _subparser(parser, args.command)
        options = sub.option_names() if sub is not None else parser.option_names()
        first = extras[0]
        hint = _did_you_mean(first.split("=", 1)[0], options) if first.startswith("-") else ""
        prog = sub.prog if sub is not None else parser.prog
        raise UsageError(f"{_command_of(prog)}unrecognized arguments: {' '.join(extras)}{hint} "
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
        raise UsageError(f"{_command_of(target.prog)}unrecognized arguments: {name}{_did_you_mean(name, options)} "
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
    import torch

    torch.set_num_threads(threads)
    (logger.info if why.startswith("the machine is busy") else logger.debug)("threads: %s", why)


# -- main -------------------------------------------------------------------------------------------------------


def _one_line(text: str) -> str:
    """One printable line: whitespace collapsed, control characters (terminal escapes from paths) escaped."""
    from zoo._text import shown

    return shown(" ".join(text.split()), limit=4000)


class Terminated(Exception):
    """SIGTERM or SIGHUP arrived: unwind (removing temporary files) and report it in one line."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def _terminate_cleanly() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into :class:`Terminated`, so ``finally`` blocks run (zoo train saves instead)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated(signum)

    previous = {}
    for signum in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if signum is not None and signal.getsignal(signum) is signal.SIG_DFL:  # nohup's SIG_IGN stays
            previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _os_error(exc: OSError) -> str:
    where = f"{exc.filename}: " if exc.filename else ""
    reason = exc.strerror or str(exc)
    fix = {
        errno.ENOSPC: "the disk is full; free some space or write elsewhere",
        errno.EACCES: "permission denied; choose a path you can write",
        errno.EPERM: "not permitted; choose a path you can write",
        errno.EROFS: "the file system is read-only; write elsewhere",
        errno.EISDIR: "that is a folder; give a file path",
        errno.ENOTDIR: "a part of the path is a file, not a folder",
        errno.ENAMETOOLONG: "use a shorter path",
        errno.EEXIST: "something that is not a folder (a file or a broken symlink) is in the way; remove it or "
        "choose another path",
        errno.ELOOP: "a symlink loop is in the way; remove it or choose another path",
    }.get(exc.errno or 0)
    return f"{where}{reason}" + (f" ({fix})" if fix else "")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = _parse(parser, argv)
    except UsageError as exc:
        print(f"zoo: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else 0
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level,
                        format="%(levelname)s %(name)s: %(message)s" if args.verbose else "%(message)s")
    logging.getLogger().setLevel(level)  # also when logging was configured before (main called in-process)
    for name in ("httpx", "httpx2", "httpcore", "httpcore2", "huggingface_hub"):  # a request line each: -v only
        logging.getLogger(name).setLevel(logging.NOTSET if args.verbose else logging.WARNING)
    try:
        with _terminate_cleanly():
            _configure_threads(args)
            return int(args.handler(args) or 0)
    except (ZooError, UsageError) as exc:
        message = str(exc)
    except Terminated as exc:
        print(f"zoo: error: terminated by {signal.Signals(exc.signum).name}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        message, code = "interrupted (Ctrl-C)", 130
        print(f"zoo: error: {message}", file=sys.stderr)
        return code
    except BrokenPipeError:  # `zoo list | head`: the reader went away; nothing more to say
        sys.stderr.close()
        return 141
    except OSError as exc:
        if args.verbose:
            raise
        message = _os_error(exc)
    except ImportError as exc:  # an optional dependency; the message names the extra to install
        if args.verbose:
            raise
        message = str(exc)
    except MemoryError:
        message = "out of memory; use a smaller batch size, model or dataset"
    except Exception as exc:
        if args.verbose:
            raise
        message = (f"unexpected {type(exc).__name__}: {exc} (this is a bug in zoo or a plugin; run with -v for "
                   "the traceback and report it)")
    print(f"zoo: error: {_one_line(message)}", file=sys.stderr)
    return 2
