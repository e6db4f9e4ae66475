"""Writing files so that readers, and a process killed mid-write, never see half of one."""

from __future__ import annotations

import contextlib
import errno
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


# -- files inside a run or model folder: never followed out of it through a symlink -------------------------------

_OPEN_FLAGS = {
    "r": os.O_RDONLY,
    "w": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
    "a": os.O_WRONLY | os.O_CREAT | os.O_APPEND,
}


def refuse_symlink(path: str | os.PathLike[str]) -> None:
    """Raise ConfigError when ``path`` itself is a symlink (its folder may be one: the user chose that path).

    zoo reads and rewrites the files inside a run folder (``metrics.jsonl`` on ``--resume``, the configs, the
    checkpoint, ``snapshots/``): a symlink planted there would make it read or overwrite a file elsewhere.
    """
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return  # nothing there: it will be created
    if stat.S_ISLNK(mode):
        raise ConfigError(
            f"{os.fspath(path)} is a symlink; zoo does not follow symlinks inside a run folder (it could read or "
            "overwrite a file elsewhere); replace it with the file itself, or remove it",
            path=path,
        )


def open_in_folder(path: str | os.PathLike[str], mode: str = "r") -> int:
    """A descriptor of ``path`` opened with ``O_NOFOLLOW``, refused unless it is a regular file.

    ``mode`` is ``"r"``, ``"w"`` (create or truncate) or ``"a"`` (create or append). Reads open without blocking,
    so a FIFO in the file's place is refused by name instead of hanging; wrap the result with ``os.fdopen``.
    """
    flags = _OPEN_FLAGS[mode] | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0) | os.O_NONBLOCK
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK):  # O_NOFOLLOW met a symlink (EMLINK on FreeBSD)
            refuse_symlink(path)
        if exc.errno == errno.ENXIO:  # opening a FIFO without a reader for writing, without blocking
            refuse_symlink(path)
            raise ConfigError(f"cannot use {os.fspath(path)}: it is a FIFO (named pipe), not a regular file; remove "
                              "it, or choose another folder", path=path) from None
        raise
    try:
        kind = not_a_file(path, os.fstat(fd).st_mode)
        if kind is not None:
            raise ConfigError(f"cannot use {os.fspath(path)}: it is {kind}, not a regular file; remove it, or "
                              "choose another folder", path=path)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def folder_lock(directory: str | os.PathLike[str], name: str, *, what: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``directory/name`` for the block, or raise ConfigError at once when another
    process holds it (two ``zoo train --out SAME`` would mix their files). The lock ends with the process, so a
    killed run never leaves the folder locked; the empty lock file stays.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: concurrent writers are not excluded
        yield
        return
    lock = Path(directory) / name
    fd = open_in_folder(lock, "a")
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(f"{os.fspath(directory)} is in use by another process ({what}); wait for it to end, "
                              "or choose another folder", path=directory) from None
        yield
    finally:
        os.close(fd)  # closing releases the lock


@contextlib.contextmanager
def folder_writers(directory: str | os.PathLike[str]) -> Iterator[None]:
    """Serialise the processes that write a set of files into ``directory`` (``zoo.save``'s config and weights,
    ``zoo eval``'s metrics.json and eval.json), so two writers never interleave their files; readers need none.

    The folder itself is the lock (``flock`` on its descriptor, blocking): no lock file to leave behind.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: writers into one folder from two processes are not serialised
        yield
        return
    fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_DIRECTORY", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
