"""The one mapping from an exception to what the command line says and its exit status.

Every expected failure ends in one ``zoo: error: ...`` line on stderr and a non-zero exit status: usage errors
(with the closest option or command suggested) exit 2, like :class:`zoo.errors.ZooError` and file-system errors;
Ctrl-C exits 130, SIGTERM and SIGHUP 128 + the signal number (temporary files removed); a closed pipe
(``zoo list | head``) exits 141 silently. Anything unexpected is reported in one line too; ``-v`` shows the
traceback of file-system errors, missing extras and bugs.
"""

from __future__ import annotations

import errno
import signal
from typing import NamedTuple

from zoo._signals import Terminated
from zoo.cli._common import UsageError
from zoo.errors import ZooError


class Failure(NamedTuple):
    status: int
    message: str | None  # None: say nothing (the reader of our output went away)
    traceback: bool  # with -v, re-raise it so that Python prints the traceback


def failure_of(exc: BaseException) -> Failure:
    """The exit status and one-line message for ``exc``, in the order the checks must run."""
    if isinstance(exc, ZooError | UsageError):
        return Failure(2, str(exc), traceback=False)
    if isinstance(exc, Terminated):
        return Failure(128 + exc.signum, f"terminated by {signal.Signals(exc.signum).name}", traceback=False)
    if isinstance(exc, KeyboardInterrupt):
        return Failure(130, "interrupted (Ctrl-C)", traceback=False)
    if isinstance(exc, BrokenPipeError):
        return Failure(141, None, traceback=False)
    if isinstance(exc, OSError):
        return Failure(2, os_error_message(exc), traceback=True)
    if isinstance(exc, ImportError):  # an optional dependency; the message names the extra to install
        return Failure(2, str(exc), traceback=True)
    if isinstance(exc, MemoryError):
        return Failure(2, "out of memory; use a smaller batch size, model or dataset", traceback=False)
    return Failure(2, f"unexpected {type(exc).__name__}: {exc} (this is a bug in zoo or a plugin; run with -v for "
                   "the traceback and report it)", traceback=True)


_OS_ERROR_FIXES = {
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
}


def os_error_message(exc: OSError) -> str:
    where = f"{exc.filename}: " if exc.filename else ""
    reason = exc.strerror or str(exc)
    fix = _OS_ERROR_FIXES.get(exc.errno or 0)
    return f"{where}{reason}" + (f" ({fix})" if fix else "")
