"""Writing files so that readers, and a process killed mid-write, never see half of one."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from zoo.errors import ConfigError

_NOT_FILES = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def not_a_file(path: str | os.PathLike[str], mode: int) -> str | None:
    """None when ``mode`` (``path``'s, after symlinks) is a regular file's, else what ``path`` is, for a message.

    For example "a FIFO (named pipe)" or "a character device (through a symlink)". Readers refuse anything but a
    regular file by what it is, before opening it: reading a FIFO or a device could block or never end.
    """
    if stat.S_ISREG(mode):
        return None
    kind = next((name for test, name in _NOT_FILES if test(mode)), "an unknown kind of file")
    return kind + (" (through a symlink)" if os.path.islink(path) else "")


def check_writable_target(path: str | os.PathLike[str]) -> None:
    """Raise ConfigError when ``path`` exists as something a file cannot replace (a folder, device, FIFO, socket).

    A device must never be renamed over: as root, that would replace /dev/full or /dev/null with a file.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # nothing there (or unreadable: the write itself will say so)
    kind = not_a_file(path, mode)
    if kind is not None:
        raise ConfigError(f"cannot write {os.fspath(path)}: it is {kind}; give the path of a file")


@contextlib.contextmanager
def atomic_destination(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; once the block has written it, move it into place.

    The file is flushed to disk, given the usual mode (mkstemp makes it private) or the mode of the file it
    replaces, and renamed over ``path``. On error the temporary file is removed and ``path`` is untouched.
    The temporary name keeps the real suffix, so writers that infer the format from it still can.
    """
    target = Path(path)
    check_writable_target(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}")
    except OSError as exc:  # name the file asked for, not the temporary one it never got
        raise OSError(exc.errno, exc.strerror, os.fspath(path)) from None
    os.close(fd)
    temporary = Path(name)
    try:
        yield temporary
        with open(temporary, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(temporary, target.stat().st_mode & 0o777 if target.exists() else 0o644)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_destination(path) as temporary:
        temporary.write_bytes(data)


def fsync_directory(directory: str | os.PathLike[str]) -> None:
    """Make the renames inside ``directory`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
