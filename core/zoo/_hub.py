"""Pushing models to, and pulling them from, the Hugging Face Hub (or any Hub-protocol server).

A zoo repository holds ``config.json``, ``model.safetensors``, a ``README.md`` model card and, when the run
has them, ``samples.png`` / ``reconstructions.png``. Pulling fetches exactly ``config.json`` and
``model.safetensors`` through ``huggingface_hub``'s cache, validates the config before anything is built, and
never imports or runs anything from the repository. huggingface_hub is imported lazily, at the call sites.

Configuration is huggingface_hub's: ``HF_ENDPOINT``, ``HF_HOME`` / ``HF_HUB_CACHE``, ``HF_HUB_OFFLINE`` and
``HF_TOKEN`` (or ``token=``). The functions also take ``endpoint=`` and ``cache_dir=``, because
huggingface_hub reads the environment once, when it is imported.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo._files import atomic_destination
from zoo._weights import CONFIG_FILE, IMAGE_FILES, WEIGHTS_FILE, Metrics, WeightsEntry, read_metrics
from zoo.errors import (
    ConfigError,
    HubAuthError,
    HubError,
    HubNotFoundError,
    LoadError,
    UnsafeWeightsError,
)

if TYPE_CHECKING:
    from huggingface_hub import CommitInfo, ModelCard
    from torch import nn

logger = logging.getLogger(__name__)

# The Hub's `library_name`: the distribution users `pip install` (the import name `zoo` is too generic to
# identify a library on the Hub, and the Hub keys library pages and code snippets by this name).
LIBRARY_NAME = "genzoo"
DEFAULT_LICENSE = "apache-2.0"
DEFAULT_REVISION = "main"
REPO_ID_RE = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,95}/)?[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
PICKLE_NAMES = ("pytorch_model.bin", "model.pt", "model.pth", "model.ckpt", "pytorch_model.pt")
TASKS = {"gan": "unconditional-image-generation", "autoencoder": "image-to-image"}


class _MissingFileError(HubNotFoundError):
    """The repository and revision exist, but the file does not."""


@dataclass(frozen=True)
class HubFiles:
    """A zoo model's files in the local Hub cache, at the commit ``revision`` that ``requested`` resolved to."""

    repo_id: str
    revision: str
    requested: str
    config: Path
    weights: Path

    @property
    def source(self) -> dict[str, str]:
        """What a loaded model's ``zoo_source`` attribute records."""
        return {"repo_id": self.repo_id, "revision": self.revision, "requested_revision": self.requested}


def parse_spec(spec: str) -> tuple[str, str]:
    """``org/repo[@revision]`` -> (repo_id, revision); the revision defaults to ``main``."""
    repo_id, sep, revision = spec.partition("@")
    if not REPO_ID_RE.match(repo_id) or ".." in repo_id or "--" in repo_id or (sep and not revision.strip()):
        raise ConfigError(
            f"{spec!r} is not a Hub repository: expected org/name[@revision] (letters, digits, '-', '_', '.'), "
            "e.g. hf-hub:alice/dense-gan-mnist@main"
        )
    return repo_id, revision or DEFAULT_REVISION


def _endpoint(endpoint: str | None) -> str:
    from huggingface_hub import constants

    return (endpoint or constants.ENDPOINT).rstrip("/")


def _has_token(token: str | bool | None) -> bool:
    if token is False:
        return False
    if isinstance(token, str):
        return bool(token)
    from huggingface_hub.utils import get_token

    return get_token() is not None


def _transport_errors() -> tuple[type[BaseException], ...]:
    # huggingface_hub 1.x/2.x talk through httpx (2.x: its fork httpx2); a refused connection surfaces raw.
    errors: list[type[BaseException]] = []
    for module in ("httpx2", "httpx"):
        with contextlib.suppress(ImportError):
            errors.append(importlib.import_module(module).TransportError)
    return tuple(errors)


@contextlib.contextmanager
def _translate(repo_id: str, revision: str | None, *, token: str | bool | None, endpoint: str | None,
               write: bool = False) -> Iterator[None]:
    """Map huggingface_hub's exceptions to zoo's, saying what went wrong and what to do. Never shows a token."""
    from huggingface_hub import constants
    from huggingface_hub import errors as hf

    where = _endpoint(endpoint)
    access = "write" if write else "read"
    at = f"@{revision}" if revision else ""
    token_fix = f"pass token= (zoo CLI: HF_TOKEN or --token-file) with {access} access to {repo_id}"
    try:
        yield
    except hf.LocalEntryNotFoundError:
        reason = ("HF_HUB_OFFLINE is set" if constants.is_offline_mode() else
                  f"the Hub at {where} could not be reached")
        raise HubError(
            f"{repo_id}{at} is not in the local Hugging Face cache and {reason}; connect and retry "
            "(unset HF_HUB_OFFLINE), or load a revision that was downloaded before"
        ) from None
    except hf.OfflineModeIsEnabled:
        raise HubError(f"cannot reach {repo_id} at {where}: HF_HUB_OFFLINE is set; unset it to talk to the Hub"
                       ) from None
    except hf.RevisionNotFoundError:
        raise HubNotFoundError(
            f"{repo_id} at {where} has no revision {revision!r}; use an existing branch, tag or commit sha "
            f"(hf-hub:{repo_id} loads the default branch)"
        ) from None
    except hf.GatedRepoError:
        raise HubAuthError(
            f"{repo_id} at {where} is gated: accept its conditions on the repository page, then {token_fix}"
        ) from None
    except hf.RepositoryNotFoundError:
        who = ("the token given cannot see it" if _has_token(token) else "no token was given")
        raise HubNotFoundError(
            f"repository {repo_id} was not found at {where}: check the name; if it is private, {who}: {token_fix}"
        ) from None
    except hf.HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status == 401 and _has_token(token):
            raise HubAuthError(
                f"the Hub at {where} refused the token for {repo_id}: check it, or pass another with token= "
                f"(zoo CLI: HF_TOKEN or --token-file); for a {'push' if write else 'private repo'} the token "
                f"needs {access} access"
            ) from None
        if status == 401:
            raise HubAuthError(f"the Hub at {where} needs a token for {repo_id}: {token_fix}") from None
        if status == 403:
            raise HubAuthError(
                f"the Hub at {where} denied {access} access to {repo_id}: {token_fix}"
            ) from None
        if status == 404:
            raise HubNotFoundError(f"{repo_id}{at} was not found at {where} (HTTP 404)") from None
        raise HubError(f"the Hub at {where} answered HTTP {status} for {repo_id}{at}; retry later") from None
    except _transport_errors() as exc:
        raise HubError(
            f"could not reach the Hub at {where} for {repo_id} ({type(exc).__name__}); check the connection, "
            "HF_ENDPOINT and any proxy settings"
        ) from None


# -- pull ------------------------------------------------------------------------------------------------


def download_file(repo_id: str, filename: str, *, revision: str, token: str | bool | None = None,
                  cache_dir: str | os.PathLike[str] | None = None, endpoint: str | None = None) -> Path:
    """One file of ``repo_id`` at ``revision``, through the Hugging Face cache (no request when pinned + cached)."""
    from huggingface_hub import errors as hf
    from huggingface_hub import hf_hub_download

    import zoo

    with _translate(repo_id, revision, token=token, endpoint=endpoint):
        try:
            path = hf_hub_download(repo_id, filename, revision=revision, token=token,
                                   cache_dir=None if cache_dir is None else Path(cache_dir),
                                   endpoint=endpoint, library_name=LIBRARY_NAME, library_version=zoo.__version__)
        except hf.RemoteEntryNotFoundError:
            raise _MissingFileError(f"{repo_id}@{revision} has no file {filename!r}") from None
    return Path(path)


def fetch(spec: str, *, token: str | bool | None = None, cache_dir: str | os.PathLike[str] | None = None,
          endpoint: str | None = None) -> HubFiles:
    """Download ``config.json`` and ``model.safetensors`` of ``org/repo[@revision]``, both from one commit.

    ``config.json`` is fetched at the requested revision (one metadata request when cached, none at a cached
    commit sha) and its envelope checked; the weights are then fetched at the commit that resolved to, so
    they always match.
    """
    from zoo._serialization import read_config_document

    repo_id, requested, revision, config = _fetch_config(spec, token=token, cache_dir=cache_dir, endpoint=endpoint)
    read_config_document(config)  # refuse a malformed document before downloading the weights
    weights = _fetch_weights(repo_id, revision, token=token, cache_dir=cache_dir, endpoint=endpoint)
    return HubFiles(repo_id=repo_id, revision=revision, requested=requested, config=config, weights=weights)


def _fetch_config(spec: str, *, token: str | bool | None, cache_dir: str | os.PathLike[str] | None,
                  endpoint: str | None) -> tuple[str, str, str, Path]:
    """(repo_id, requested revision, resolved commit sha, path of config.json)."""
    repo_id, requested = parse_spec(spec)
    try:
        config = download_file(repo_id, CONFIG_FILE, revision=requested, token=token, cache_dir=cache_dir,
                               endpoint=endpoint)
    except _MissingFileError:
        _refuse_pickle(repo_id, requested, token=token, endpoint=endpoint)
        raise HubNotFoundError(
            f"{repo_id}@{requested} has no {CONFIG_FILE}, so it is not a zoo model; zoo repos hold {CONFIG_FILE} "
            f"and {WEIGHTS_FILE}, as written by `zoo push`"
        ) from None
    # hf_hub_download returns <cache>/models--org--repo/snapshots/<commit>/config.json.
    revision = config.parent.name
    if not COMMIT_RE.match(revision):
        raise HubError(f"unexpected Hugging Face cache layout at {config}; cannot tell which commit it is")
    return repo_id, requested, revision, config


def _fetch_weights(repo_id: str, revision: str, *, token: str | bool | None,
                   cache_dir: str | os.PathLike[str] | None, endpoint: str | None) -> Path:
    try:
        return download_file(repo_id, WEIGHTS_FILE, revision=revision, token=token, cache_dir=cache_dir,
                             endpoint=endpoint)
    except _MissingFileError:
        _refuse_pickle(repo_id, revision, token=token, endpoint=endpoint)
        raise HubNotFoundError(f"{repo_id}@{revision} has no {WEIGHTS_FILE}; push one with `zoo push`") from None


def _refuse_pickle(repo_id: str, revision: str, *, token: str | bool | None, endpoint: str | None) -> None:
    """Raise UnsafeWeightsError when the repo offers pickle weights instead of safetensors."""
    from huggingface_hub import HfApi

    with _translate(repo_id, revision, token=token, endpoint=endpoint):
        names = HfApi(endpoint=endpoint, token=token).list_repo_files(repo_id, revision=revision)
    pickles = sorted(n for n in names if n.rsplit("/", 1)[-1] in PICKLE_NAMES)
    if pickles:
        raise UnsafeWeightsError(
            f"{repo_id}@{revision} holds only pickle weights ({', '.join(pickles)}); zoo never loads pickle, "
            f"which can run arbitrary code. Ask the owner to publish {WEIGHTS_FILE} (safetensors)"
        )


def load_from_hub(spec: str, *, token: str | bool | None = None, cache_dir: str | os.PathLike[str] | None = None,
                  endpoint: str | None = None) -> nn.Module:
    """Load ``org/repo[@revision]`` in eval mode (what ``zoo.load("hf-hub:org/repo@rev")`` calls).

    The model's ``zoo_source`` attribute is ``{"repo_id", "revision" (the 40-hex commit sha loaded),
    "requested_revision"}``. A second load at a commit sha makes no HTTP request; at a branch, one metadata
    request for ``config.json``.
    """
    from zoo._serialization import build_from_document, load_weights, read_config_document

    repo_id, requested, revision, config = _fetch_config(spec, token=token, cache_dir=cache_dir, endpoint=endpoint)
    # The whole config is validated, and the model built, before the weights are downloaded.
    model = build_from_document(read_config_document(config), where=f"hf-hub:{repo_id}@{revision}")
    weights = _fetch_weights(repo_id, revision, token=token, cache_dir=cache_dir, endpoint=endpoint)
    load_weights(model, weights)
    files = HubFiles(repo_id=repo_id, revision=revision, requested=requested, config=config, weights=weights)
    model.zoo_source = files.source  # type: ignore[assignment]  # nn.Module's __setattr__ is typed for tensors
    return model.eval()


def pull(spec: str, *, out: str | os.PathLike[str] | None = None, token: str | bool | None = None,
         cache_dir: str | os.PathLike[str] | None = None, endpoint: str | None = None) -> Path:
    """Download ``org/repo[@revision]``'s ``config.json`` and ``model.safetensors``; return their directory.

    Without ``out`` that is the Hugging Face cache's snapshot directory of the resolved commit. With ``out``
    both files are copied there (created if needed) once both downloads have succeeded, so a failed pull
    leaves nothing behind. ``zoo.load()`` reads the directory.
    """
    return pull_files(spec, out=out, token=token, cache_dir=cache_dir, endpoint=endpoint)[0]


def pull_files(spec: str, *, out: str | os.PathLike[str] | None = None, token: str | bool | None = None,
               cache_dir: str | os.PathLike[str] | None = None, endpoint: str | None = None
               ) -> tuple[Path, HubFiles]:
    files = fetch(spec, token=token, cache_dir=cache_dir, endpoint=endpoint)
    _check_safetensors(files.weights)
    if out is None:
        return files.config.parent, files
    target = Path(out)
    if target.exists() and not target.is_dir():
        raise ConfigError(f"--out {target} is a file; give a directory")
    target.mkdir(parents=True, exist_ok=True)
    for name, source in ((CONFIG_FILE, files.config), (WEIGHTS_FILE, files.weights)):
        with atomic_destination(target / name) as temporary:
            shutil.copyfile(source, temporary)
    return target, files


def _check_safetensors(path: Path) -> None:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            fh.keys()
    except (SafetensorError, OSError, ValueError) as exc:
        raise LoadError(f"{path} is not a readable safetensors file ({exc}); delete it and pull again") from None


# -- push ------------------------------------------------------------------------------------------------


def push(model_or_run_dir: nn.Module | str | os.PathLike[str], repo_id: str, *, token: str | bool | None = None,
         private: bool | None = None, branch: str | None = None, commit_message: str | None = None,
         license: str = DEFAULT_LICENSE, endpoint: str | None = None) -> CommitInfo:
    """Publish a zoo model (or a run directory written by ``zoo train``) to the Hub in one commit.

    Creates ``repo_id`` if needed (``private`` applies only then), then uploads ``config.json``,
    ``model.safetensors``, a ``README.md`` model card and the run's ``samples.png`` / ``reconstructions.png``
    in one ``upload_folder`` commit to ``branch`` (default: the repo's default branch). The card carries
    ``library_name``, tags (architecture, kind, dataset), ``license`` and, when the run directory has a
    ``metrics.json``, its metrics as ``model-index``. Returns huggingface_hub's ``CommitInfo`` (``.oid`` is
    the commit sha to pin with ``hf-hub:org/repo@<sha>``).
    """
    from zoo._registry import get_registry
    from zoo._serialization import load_directory, read_config_document
    from zoo._serialization import save as save_model

    with tempfile.TemporaryDirectory(prefix="zoo-push-") as tmp:
        staging = Path(tmp)
        training: dict[str, Any] = {}
        metrics: Metrics | None = None
        if isinstance(model_or_run_dir, str | os.PathLike):
            run = Path(model_or_run_dir)
            if not run.is_dir():
                raise LoadError(f"{run} is not a directory; push a model or a run directory from `zoo train`")
            load_directory(run)  # push only what loads: valid config, weights that match it
            for name in (CONFIG_FILE, WEIGHTS_FILE, *IMAGE_FILES):
                if (run / name).is_file():
                    shutil.copyfile(run / name, staging / name)
            training = _training_summary(run)
            metrics = read_metrics(run)
            if metrics is not None and metrics.dataset not in get_registry().datasets:
                # Evaluated on a file: name it by its base name, never by a local path.
                metrics = metrics.model_copy(update={"dataset": Path(metrics.dataset).name or "custom"})
        else:
            save_model(model_or_run_dir, staging)
        document = read_config_document(staging / CONFIG_FILE)
        dataset = training.get("data")
        card = model_card(
            repo_id=repo_id, document=document, kind=get_registry().model(document["architecture"]).kind,
            dataset=dataset if isinstance(dataset, str) else None, metrics=metrics, license=license,
            images=[n for n in IMAGE_FILES if (staging / n).is_file()], training=training,
        )
        card.save(staging / "README.md")
        return _upload(staging, repo_id, token=token, private=private, branch=branch, endpoint=endpoint,
                       commit_message=commit_message or f"Upload {document['architecture']} with zoo")


def publish_entry(name: str, repo_id: str, *, token: str | bool | None = None, private: bool | None = None,
                  branch: str | None = None, commit_message: str | None = None, license: str = DEFAULT_LICENSE,
                  endpoint: str | None = None, cache_dir: str | os.PathLike[str] | None = None) -> CommitInfo:
    """Push the registry entry ``name`` (its verified files and a card from its record) in one commit."""
    from zoo._registry import get_registry
    from zoo._serialization import read_config_document
    from zoo._weights import entry_file, load_entry

    registry = get_registry()
    entry = registry.weights_entry(name)
    if not isinstance(entry, WeightsEntry):
        raise LoadError(f"pretrained entry {name!r} is not a zoo.WeightsEntry")
    # A plugin entry's files come from the same endpoint they are published to.
    load_entry(entry, token=token, cache_dir=cache_dir, endpoint=endpoint)  # verifies every sha256, and that it loads
    with tempfile.TemporaryDirectory(prefix="zoo-publish-") as tmp:
        staging = Path(tmp)
        for file in entry.files:
            path = entry_file(entry, file, token=token, cache_dir=cache_dir, endpoint=endpoint)
            shutil.copyfile(path, staging / file)
        document = read_config_document(staging / CONFIG_FILE)
        training = {"command": entry.command, "seed": entry.seed, "data": entry.dataset, "split": entry.split}
        card = model_card(
            repo_id=repo_id, document=document, kind=registry.model(entry.architecture).kind, dataset=entry.dataset,
            metrics=entry.metrics, license=license, images=[n for n in IMAGE_FILES if n in entry.files],
            training=training, entry=entry,
        )
        card.save(staging / "README.md")
        return _upload(staging, repo_id, token=token, private=private, branch=branch, endpoint=endpoint,
                       commit_message=commit_message or f"Publish zoo registry entry {name}")


def _training_summary(run: Path) -> dict[str, Any]:
    """The run's training settings for the card, minus anything machine-local (output path, device)."""
    path = run / "train_config.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    summary = {k: v for k, v in data.items() if k not in ("out", "device")}
    from zoo._registry import get_registry

    # A dataset given as a file path would leak a local path into a public card: keep registered names only.
    if summary.get("data") not in get_registry().datasets:
        summary.pop("data", None)
    return summary


def _upload(staging: Path, repo_id: str, *, token: str | bool | None, private: bool | None, branch: str | None,
            endpoint: str | None, commit_message: str) -> CommitInfo:
    from huggingface_hub import HfApi
    from huggingface_hub import errors as hf

    if "@" in repo_id:
        raise ConfigError(f"push to {repo_id!r}: give the branch with branch= (zoo push --branch), not @")
    parse_spec(repo_id)
    api = HfApi(endpoint=endpoint, token=token, library_name=LIBRARY_NAME)
    with _translate(repo_id, branch, token=token, endpoint=endpoint, write=True):
        full_id = api.create_repo(repo_id, private=private, exist_ok=True).repo_id

        def upload() -> CommitInfo:
            # Zoo-managed pictures that this push does not include are deleted, so the card never shows stale ones.
            info: CommitInfo = api.upload_folder(
                repo_id=full_id, folder_path=staging, commit_message=commit_message, revision=branch,
                delete_patterns=[n for n in IMAGE_FILES if not (staging / n).exists()],
            )
            return info

        try:
            info = upload()
        except hf.RevisionNotFoundError:
            if branch is None:
                raise
            api.create_branch(full_id, branch=branch, exist_ok=True)
            info = upload()
    logger.info("pushed %s to %s (commit %s)", ", ".join(sorted(p.name for p in staging.iterdir())), full_id,
                info.oid)
    return info


# -- model card ------------------------------------------------------------------------------------------


def model_card(*, repo_id: str, document: dict[str, Any], kind: str, dataset: str | None, metrics: Metrics | None,
               license: str, images: list[str], training: dict[str, Any], entry: WeightsEntry | None = None
               ) -> ModelCard:
    """The ``README.md`` of a zoo repository: Hub metadata (YAML) and a human-readable body."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    architecture = document["architecture"]
    task = TASKS.get(kind)
    tags = [architecture, kind, *([dataset] if dataset else [])]
    eval_results = None
    if metrics is not None and task is not None:
        eval_results = [
            EvalResult(task_type=task, dataset_type=metrics.dataset, dataset_name=metrics.dataset,
                       dataset_split=metrics.split, metric_type=name, metric_name=name, metric_value=value)
            for name, value in metrics.metrics.items()
        ]
    data = ModelCardData(
        library_name=LIBRARY_NAME, license=license, tags=list(dict.fromkeys(tags)), pipeline_tag=task,
        model_name=repo_id.rsplit("/", 1)[-1] if eval_results else None, eval_results=eval_results,
    )
    provider = document.get("provider", {})
    install = " ".join(dict.fromkeys(["genzoo", provider.get("distribution", "genzoo")]))
    lines = [
        f"# {repo_id.rsplit('/', 1)[-1]}",
        "",
        f"A `{architecture}` {kind}" + (f" trained on `{dataset}`" if dataset else "") + ", published with "
        "[zoo](https://pypi.org/project/genzoo/). The repository holds `config.json` (the architecture and its "
        "validated config) and `model.safetensors` (the weights); loading never runs code from it.",
        "",
        "## Usage",
        "",
        "```python",
        f"# pip install {install}",
        "import zoo",
        "",
        f'model = zoo.load("hf-hub:{repo_id}")  # or pin a commit: "hf-hub:{repo_id}@<sha>"',
        "```",
        "",
        f"or from a shell: `zoo pull {repo_id} --out {architecture}`.",
    ]
    for image in images:
        title = "Samples" if image == "samples.png" else "Reconstructions (originals above, reconstructions below)"
        lines += ["", f"## {title}", "", f"![{image.removesuffix('.png')}]({image})"]
    if metrics is not None:
        lines += ["", "## Metrics", "", f"On `{metrics.dataset}` ({metrics.split} split):", "",
                  "| metric | value |", "|---|---|"]
        lines += [f"| {name} | {value:.6g} |" for name, value in metrics.metrics.items()]
    if training:
        lines += ["", "## Training", "", "```json", json.dumps(training, indent=2), "```"]
    if entry is not None and entry.note:
        lines += ["", f"Registry entry `{entry.name}`: {entry.note}"]
    lines += ["", "## Config", "", "```json", json.dumps(document["config"], indent=2), "```", ""]
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(lines))
