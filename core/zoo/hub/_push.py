"""Uploading a staged folder to the Hub in one commit, through ``huggingface_hub.HfApi``.

The Hub's answers end up on a terminal (``zoo push`` prints them): the commit id and the repository id are checked
against their patterns, and the commit URL is escaped, before they reach a :class:`PushResult`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from zoo._names import COMMIT_RE, DEFAULT_REVISION, check_repo_id, valid_repo_id, valid_revision
from zoo._rundir import IMAGE_NAMES
from zoo._text import shown
from zoo.errors import ConfigError, HubError, HubProtocolError
from zoo.hub._http import LIBRARY_NAME, Where, endpoint_url, translate

if TYPE_CHECKING:
    from huggingface_hub import HfApi

logger = logging.getLogger("zoo.hub")


@dataclass(frozen=True)
class PushResult:
    """What a push did: the commit now at the head of ``branch``, and whether this push made it."""

    repo_id: str
    oid: str
    commit_url: str
    branch: str
    changed: bool
    tag: str | None = None
    created_branch: bool = False


def _checked_answer(where: Where, repo_id: str, oid: str) -> None:
    if not valid_repo_id(repo_id) or not COMMIT_RE.fullmatch(oid):
        raise HubProtocolError(
            f"the Hub at {where.endpoint} answered the push to {where.repo_id} with repository {shown(repo_id, 80)!r} "
            f"and commit {shown(oid, 80)!r}, which are not a repository id and a 40-hex commit id; check the "
            "server", repo_id=where.repo_id)


def upload_folder(staging: Path, repo_id: str, *, token: str | bool | None, private: bool | None,
                  branch: str | None, tag: str | None, endpoint: str | None, commit_message: str) -> PushResult:
    """Upload ``staging`` to ``repo_id`` in one commit on ``branch`` (created from main when new), then ``tag`` it.

    A push that changes nothing makes no commit (``changed`` is False). An existing tag is an error, checked
    before anything is uploaded.
    """
    from huggingface_hub import HfApi

    if "@" in repo_id:
        raise ConfigError(f"push to {shown(repo_id)!r}: give the branch with branch= (zoo push --branch), not @")
    check_repo_id(repo_id)
    for name, what in ((branch, "branch name"), (tag, "tag name")):
        if name is not None and (COMMIT_RE.fullmatch(name) or not valid_revision(name) or name.startswith("refs/")):
            raise ConfigError(f"{shown(name)!r} is not a valid {what}: letters, digits, '-', '_', '.', '/', no '..'")
    api: HfApi = HfApi(endpoint=endpoint, token=token, library_name=LIBRARY_NAME)
    where = Where(repo_id, branch, endpoint_url(endpoint), token, write=True)
    with translate(where):
        full_id = api.create_repo(repo_id, private=private, exist_ok=True).repo_id
        if not valid_repo_id(full_id):
            _checked_answer(where, full_id, "")
        refs = api.list_repo_refs(full_id)
        branches = {ref.name: ref.target_commit for ref in refs.branches}
        if tag is not None and tag in {ref.name for ref in refs.tags}:
            raise HubError(f"{full_id} already has a tag {tag!r}; tags never move: choose another name, or delete "
                           "it on the Hub first", repo_id=full_id)
        target = branch or DEFAULT_REVISION
        created = target not in branches
        if created:
            api.create_branch(full_id, branch=target, exist_ok=True)
            branches[target] = branches.get(DEFAULT_REVISION, "")  # a new branch starts at main's head
        # Zoo-managed pictures that this push does not include are deleted, so the card never shows stale ones.
        info = api.upload_folder(
            repo_id=full_id, folder_path=staging, commit_message=commit_message, revision=target,
            delete_patterns=[n for n in IMAGE_NAMES if not (staging / n).exists()],
        )
        _checked_answer(where, full_id, info.oid)
        changed = info.oid != branches.get(target)
        if tag is not None:
            api.create_tag(full_id, tag=tag, revision=info.oid)
    if changed:
        logger.debug("pushed %s to %s@%s (commit %s)", ", ".join(sorted(p.name for p in staging.iterdir())),
                    full_id, target, info.oid)
    else:
        logger.debug("%s@%s already holds these files (commit %s); nothing was pushed", full_id, target, info.oid)
    return PushResult(repo_id=full_id, oid=info.oid, commit_url=shown(str(info.commit_url), 500), branch=target,
                      changed=changed, tag=tag, created_branch=created)


__all__ = ["PushResult", "upload_folder"]
