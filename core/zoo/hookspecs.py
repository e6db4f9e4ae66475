"""The whole plugin contract: every hook zoo calls, with its signature and meaning.

A plugin is a module (or object) with functions decorated by :data:`zoo.hookimpl`, published under the
entry-point group ``zoo.plugins``::

    # pyproject.toml
    [project.entry-points."zoo.plugins"]
    acme = "acme_zoo.plugin"

    # acme_zoo/plugin.py
    import zoo

    @zoo.hookimpl
    def zoo_models():
        return [zoo.ModelSpec(name="acme-ae", config=AcmeConfig, build=AcmeAE)]

zoo calls the hooks when the registry is first used, never at import time. Implement only the hooks you need;
each returns a list of the documented type. The capabilities a model may implement are the protocols of
``zoo.protocols`` (re-exported by ``zoo``).

Plugins are checked when they register, as pluggy's ``check_pending`` does: a function named ``zoo_*`` that is
not one of the hooks below (``zoo_model``), a hook not marked with ``@zoo.hookimpl``, a hook that raises or
returns something other than its documented type, or a model spec whose config is not a pydantic model that
forbids extra keys marks the plugin *broken*, naming the hook (``zoo plugins`` shows it) without affecting
other plugins. ``ZOO_STRICT_PLUGINS=1`` makes each of these fatal, for every hook, ``zoo_callbacks`` included.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # the hooks' types, for type checkers only: this module stays at the bottom of the import graph
    from zoo._entries import WeightsEntry
    from zoo._specs import DatasetSpec, ModelSpec
    from zoo._train_config import TrainConfig
    from zoo.train import Callback

PROJECT_NAME = "zoo"
ENTRY_POINT_GROUP = "zoo.plugins"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def zoo_models() -> list[ModelSpec]:
    """Return the architectures this plugin provides, as :class:`zoo.ModelSpec` objects.

    ``zoo.ModelSpec(name=..., config=<pydantic class>, build=...)`` is enough; a spec of a family zoo has no
    default objective for (neither GAN, autoencoder nor classifier) must also name its ``objective``.

    Names are global: the same name from two distributions makes that name unusable (an error naming both
    providers) instead of one silently replacing the other.
    """
    raise NotImplementedError


@hookspec
def zoo_datasets() -> list[DatasetSpec]:
    """Return datasets, as :class:`zoo.DatasetSpec` objects, usable with ``zoo train --data NAME``."""
    raise NotImplementedError


@hookspec
def zoo_weights() -> list[WeightsEntry]:
    """Return pretrained weight entries (:class:`zoo.WeightsEntry`) named ``architecture.tag``.

    A plugin's entries name a Hub repository and a pinned revision; their files are downloaded on first use
    and checked against the sha256 recorded in the entry.
    """
    raise NotImplementedError


@hookspec
def zoo_callbacks(train_config: TrainConfig) -> list[Callback]:
    """Return trainer callbacks (:class:`zoo.train.Callback`) to attach to a training run.

    Called once per run with its validated ``TrainConfig``; return an empty list to stay out of this run.
    This is how a logger (W&B, MLflow) ships as its own package: return its callback when
    ``train_config.logger`` names it, the name the callback's ``logger_name`` claims (``--set logger=wandb``;
    docs/training.md). A raising hook, or one returning something other than callbacks, is skipped with a
    warning (fatal with ``ZOO_STRICT_PLUGINS=1``).
    """
    raise NotImplementedError
