"""The Hugging Face Hub (or any Hub-protocol server): pull verified files into huggingface_hub's cache, push a
model or run directory in one commit, publish a registry entry.

A zoo repository holds ``config.json``, ``model.safetensors``, a ``README.md`` model card and, when the run has
them, ``samples.png`` / ``reconstructions.png``. This package moves files; it knows neither the registry's
resolution of entries nor how a model is built from a download (``zoo._resolve`` joins the two). Its modules, from
the bottom: ``_http`` (requests, deadlines, error mapping), ``_cache`` (the cache layout), ``_download``,
``_push``, ``_card`` (the model card) and ``_publish``.
"""

from zoo.hub._card import model_card
from zoo.hub._download import (
    HubFile,
    HubFiles,
    check_safetensors,
    copy_files,
    download_file,
    fetch_config,
    fetch_weights,
    list_files,
)
from zoo.hub._http import LIBRARY_NAME
from zoo.hub._publish import DEFAULT_LICENSE, publish_entry, push
from zoo.hub._push import PushResult, upload_folder

__all__ = [
    "DEFAULT_LICENSE",
    "LIBRARY_NAME",
    "HubFile",
    "HubFiles",
    "PushResult",
    "check_safetensors",
    "copy_files",
    "download_file",
    "fetch_config",
    "fetch_weights",
    "list_files",
    "model_card",
    "publish_entry",
    "push",
    "upload_folder",
]
