"""What ``zoo push``, ``zoo pull`` and ``zoo publish`` do (their options: ``hub``).

The command line owns its process, so it quiets the Hub client here rather than in the library: no progress bars
(a push is one commit of small files; the result lines say what happened), no client warnings that repeat what
zoo says itself ("No files have been modified since last commit" is zoo's "nothing to push"), and a timeout on
every request. ``-v`` shows the client's log lines.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import huggingface_hub
from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars
from huggingface_hub.utils._http import default_client_factory

import zoo
from zoo._registry import registry_entry
from zoo._resolve import entry_files, pull_files
from zoo.cli._common import say
from zoo.errors import ConfigError
from zoo.hub import PushResult, publish_entry

# Seconds a push may wait on one connect, read or write. huggingface_hub's own client waits forever; the library
# leaves that process-wide setting alone, but the command line owns its process and bounds it.
PUSH_TIMEOUT_S = 60.0


def push(args: argparse.Namespace) -> int:
    with _quiet_client(args):
        info = zoo.push(args.directory, args.repo_id, token=_token(args), private=args.private or None,
                        branch=args.branch, tag=args.tag, commit_message=args.message, license=args.license)
    _report(f"pushed {args.directory}", info)
    say(f"  load it with zoo.load(\"hf-hub:{info.repo_id}@{info.oid}\")")
    return 0


def pull(args: argparse.Namespace) -> int:
    directory, files = pull_files(args.spec, out=args.out, token=_token(args))
    say(f"pulled {files.repo_id}@{files.requested} (commit {files.revision}) into {directory}")
    return 0


def publish(args: argparse.Namespace) -> int:
    with _quiet_client(args):
        entry, token = registry_entry(args.entry), _token(args)
        info = publish_entry(entry, entry_files(entry, token=token), args.repo_id, token=token,
                             private=args.private or None, branch=args.branch, tag=args.tag,
                             commit_message=args.message, license=args.license)
    _report(f"published {args.entry}", info)
    say(f'record it in the entry: "hub": {{"repo_id": "{info.repo_id}", "revision": "{info.oid}"}}')
    return 0


def _token(args: argparse.Namespace) -> str | None:
    path: Path | None = args.token_file
    if path is None:
        return None  # huggingface_hub's own lookup: HF_TOKEN, then the stored login
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--token-file {path}: cannot read it ({type(exc).__name__})") from None
    if not token or any(c.isspace() for c in token):
        raise ConfigError(f"--token-file {path} must hold one token on one line")
    return token


def _report(what: str, info: PushResult) -> None:
    """What a push did."""
    if info.changed:
        say(f"{what} to {info.repo_id}@{info.branch} at commit {info.oid}")
        say(f"  {info.commit_url}")
    else:
        say(f"nothing to push: {info.repo_id}@{info.branch} already holds these files (commit {info.oid})")
    if info.tag:
        say(f"  tagged {info.tag}: load it with zoo.load(\"hf-hub:{info.repo_id}@{info.tag}\")")


@contextlib.contextmanager
def _quiet_client(args: argparse.Namespace) -> Iterator[None]:
    """Within the block: requests bounded by :data:`PUSH_TIMEOUT_S`, no progress bars, and (unless ``-v``) none of
    the client's warnings."""

    def bounded() -> Any:
        client = default_client_factory()
        client.timeout = PUSH_TIMEOUT_S
        return client

    huggingface_hub.set_client_factory(bounded)
    client_logger = logging.getLogger("huggingface_hub")
    level, bars_were_disabled = client_logger.level, are_progress_bars_disabled()
    if not args.verbose:
        client_logger.setLevel(logging.ERROR)
    disable_progress_bars()
    try:
        yield
    finally:
        client_logger.setLevel(level)
        if not bars_were_disabled:
            enable_progress_bars()
