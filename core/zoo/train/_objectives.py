"""Objectives: what a variant optimises. The trainer runs any of them without knowing the model.

An objective names the networks it updates (each gets its own optimizer), in the order they are updated
within one training step, and computes each network's loss on a batch. Third-party variants can use these or
supply their own object with the same three methods.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable

import pydantic
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from zoo._specs import Data
from zoo.errors import ConfigError, TrainingError
from zoo.protocols import (
    GAN,
    Classifier,
    Denoiser,
    Encoder,
    LatentSampler,
    VariationalAutoencoder,
    ema_generator_of,
    family_of,
    gan_fakes,
)

Logs = dict[str, Tensor]


class Update(NamedTuple):
    """One network an objective updates, in :meth:`Objective.updates`: its name (the key of its optimizer and of
    ``loss``), the module whose parameters it updates, and how many updates it gets per training step.

    A plain ``(network, module, steps)`` tuple is accepted too; the trainer reads it as an ``Update``.
    """

    network: str
    module: nn.Module
    steps: int


@runtime_checkable
class Objective(Protocol):
    def updates(self, model: Any) -> list[tuple[str, nn.Module, int]]:
        """``(network name, module whose parameters it updates, updates per step)``, in update order."""
        ...

    def loss(self, model: Any, network: str, batch: Data) -> tuple[Tensor, Logs]:
        """The scalar loss to minimise for ``network`` on ``batch``, and detached tensors to log."""
        ...

    def after_update(self, model: Any, network: str) -> None:
        """Called after each optimizer step of ``network`` (e.g. to update an EMA copy)."""
        ...

    def finalize(self, model: Any, data: Data) -> None:
        """Called once after the last step with the training data (e.g. to fit a latent sampler).

        An objective whose ``finalize`` reads no data may say so with a ``needs_finalize_data`` attribute that is
        False: from a streamed dataset the trainer then reads nothing for it (it reads a bounded sample otherwise).
        """
        ...


def _reconstruction_loss(kind: str, output: Tensor, target: Tensor) -> Tensor:
    if kind == "bce":
        # Decoders end in a sigmoid; clamping keeps log() finite when an output saturates.
        return F.binary_cross_entropy(output.clamp(1e-6, 1 - 1e-6), target)
    return F.mse_loss(output, target)


class ObjectiveArguments(BaseModel):
    """Base of the shipped objectives: their arguments are validated once, when the objective is built.

    Frozen and strict like every config: a misspelled choice (``Adversarial(loss="wgan-gp")``), a wrong type or
    an out-of-range value is a :class:`~zoo.errors.ConfigError` naming the argument, the accepted values and
    the closest one, instead of training something else silently.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False,
                              arbitrary_types_allowed=True, populate_by_name=False)

    def __init__(self, **arguments: Any) -> None:
        try:
            super().__init__(**arguments)
        except pydantic.ValidationError as exc:
            raise ConfigError(_argument_problems(type(self).__name__, exc)) from None


def _argument_problems(objective: str, exc: pydantic.ValidationError) -> str:
    problems = []
    for err in exc.errors():
        argument = ".".join(str(p) for p in err["loc"]) or "(arguments)"
        problem = f"{argument}={err['input']!r}: {err['msg']}"
        if err["type"] == "literal_error":
            choices = re.findall(r"'([^']*)'", str((err.get("ctx") or {}).get("expected", "")))
            by_lower = {choice.lower(): choice for choice in choices}
            close = difflib.get_close_matches(str(err["input"]).lower(), list(by_lower), n=1, cutoff=0.4)
            problem += f" (did you mean {by_lower[close[0]]!r}?)" if close else ""
        problems.append(problem)
    return (f"{objective}: {'; '.join(problems)}; fix the argument (docs/writing-a-plugin.md lists every "
            "objective's arguments with their ranges)")


class Reconstruction(ObjectiveArguments):
    """Autoencoders: reconstruct the (optionally corrupted) input; MSE or binary cross-entropy.

    ``translate`` > 0 first shifts each clean image by up to that fraction of its size (see
    :func:`translate_randomly`), and ``transform`` (a random, shape-preserving function of a batch
    ``(N, C, H, W)``, e.g. a model's own augmentation) is applied next; the result is both the target and what
    gets corrupted.
    """

    loss_kind: Literal["mse", "bce"] = Field("mse", alias="loss")
    corruption: Callable[[Tensor], Tensor] | None = None
    translate: float = Field(0.0, ge=0.0, le=0.5)
    transform: Callable[[Tensor], Tensor] | None = None

    def __init__(self, loss: Literal["mse", "bce"] = "mse",
                 corruption: Callable[[Tensor], Tensor] | None = None, *, translate: float = 0.0,
                 transform: Callable[[Tensor], Tensor] | None = None) -> None:
        super().__init__(loss=loss, corruption=corruption, translate=translate, transform=transform)

    def updates(self, model: Any) -> list[tuple[str, nn.Module, int]]:
        return [("model", model, 1)]

    def loss(self, model: Any, network: str, batch: Data) -> tuple[Tensor, Logs]:
        images = translate_randomly(batch.images, self.translate) if self.translate > 0 else batch.images
        if self.transform is not None:
            images = self.transform(images)
        inputs = self.corruption(images) if self.corruption is not None else images
        loss = _reconstruction_loss(self.loss_kind, model(inputs), images)
        return loss, {"loss": loss.detach()}

    def after_update(self, model: Any, network: str) -> None:
        return None

    def finalize(self, model: Any, data: Data) -> None:
        return None

    @property
    def needs_finalize_data(self) -> bool:
        """False: :meth:`finalize` reads no data, so the trainer reads none from a streamed dataset for it."""
        return False


class ELBO(ObjectiveArguments):
    """Variational autoencoders: reconstruction (summed over pixels) + beta * KL(q(z|x) || N(0, I)).

    With ``fit_sampler``, after training the model's ``fit_sampler(latents)`` is given the encoded training
    set, so that sampling follows the aggregate posterior rather than the prior. The objective derived for a
    model that names none sets it when the model is a :class:`~zoo.protocols.LatentSampler`.
    """

    beta: float = Field(1.0, ge=0.0, le=10_000.0)
    reconstruction: Literal["bce", "mse"] = "bce"
    fit_sampler: bool = False

    def __init__(self, *, beta: float = 1.0, reconstruction: Literal["bce", "mse"] = "bce",
                 fit_sampler: bool = False) -> None:
        super().__init__(beta=beta, reconstruction=reconstruction, fit_sampler=fit_sampler)

    def updates(self, model: Any) -> list[tuple[str, nn.Module, int]]:
        return [("model", model, 1)]

    def loss(self, model: Any, network: str, batch: Data) -> tuple[Tensor, Logs]:
        if not isinstance(model, VariationalAutoencoder):
            raise TrainingError(f"ELBO trains a VariationalAutoencoder (encode_distribution, reparameterize, "
                                f"decode); {type(model).__name__} is not one")
        images = batch.images
        mean, logvar = model.encode_distribution(images)  # (N, D) each
        output = model.decode(model.reparameterize(mean, logvar))
        pixels = images[0].numel()
        recon = _reconstruction_loss(self.reconstruction, output, images) * pixels
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1).mean()
        loss = recon + self.beta * kl
        return loss, {"loss": loss.detach(), "reconstruction": recon.detach(), "kl": kl.detach()}

    def after_update(self, model: Any, network: str) -> None:
        return None

    @property
    def needs_finalize_data(self) -> bool:
        """Only fitting the latent sampler reads the training data after the last step."""
        return self.fit_sampler

    def finalize(self, model: Any, data: Data) -> None:
        if not self.fit_sampler:
            return
        if not (isinstance(model, LatentSampler) and isinstance(model, Encoder)):
            raise TrainingError(f"ELBO(fit_sampler=True) needs a LatentSampler (fit_sampler(latents)); "
                                f"{type(model).__name__} has none")
        with torch.no_grad():
            latents = torch.cat([model.encode(chunk) for chunk in data.images.split(1024)])  # (N, D)
        model.fit_sampler(latents)


class Classification(ObjectiveArguments):
    """Classifiers (e.g. the feature network that evaluation uses): cross-entropy on the dataset's labels."""

    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0)

    def __init__(self, *, label_smoothing: float = 0.0) -> None:
        super().__init__(label_smoothing=label_smoothing)

    def updates(self, model: Any) -> list[tuple[str, nn.Module, int]]:
        return [("model", model, 1)]

    def loss(self, model: Any, network: str, batch: Data) -> tuple[Tensor, Logs]:
        if batch.labels is None:
            raise TrainingError("a classifier needs labelled data; this dataset has no labels")
        logits = model(batch.images)  # (N, classes)
        loss = F.cross_entropy(logits, batch.labels, label_smoothing=self.label_smoothing)
        accuracy = (logits.detach().argmax(dim=1) == batch.labels).float().mean()
        return loss, {"loss": loss.detach(), "accuracy": accuracy}

    def after_update(self, model: Any, network: str) -> None:
        return None

    def finalize(self, model: Any, data: Data) -> None:
        return None

    @property
    def needs_finalize_data(self) -> bool:
        """False: :meth:`finalize` reads no data, so the trainer reads none from a streamed dataset for it."""
        return False


AdversarialLoss = Literal["non-saturating", "hinge", "wasserstein-gp"]


class Adversarial(ObjectiveArguments):
    """GANs: ``d_steps`` discriminator updates, then one generator update, per training step.

    The discriminator returns one score (a logit) per image, shape ``(N,)``. Losses: non-saturating
    cross-entropy, hinge, or Wasserstein with a gradient penalty on interpolates (``gp_weight``, used by
    ``"wasserstein-gp"`` only). When the model is an :class:`~zoo.protocols.EMAGenerator` with a copy, the copy
    is moved towards the generator after every generator update with ``ema_decay``. Fakes come from
    :func:`~zoo.protocols.gan_fakes` (``generator.sample(n)``, else the model's ``sample(n)``).
    ``translate`` > 0 shifts every image the discriminator sees, real and
    fake, by up to that fraction of its size (differentiable augmentation, Zhao et al. 2020), which keeps a
    discriminator from memorising a small training set.
    """

    loss_kind: AdversarialLoss = Field("non-saturating", alias="loss")
    d_steps: int = Field(1, ge=1, le=100)
    gp_weight: float = Field(10.0, ge=0.0, le=10_000.0)
    ema_decay: float = Field(0.0, ge=0.0, lt=1.0)
    translate: float = Field(0.0, ge=0.0, le=0.5)

    def __init__(self, loss: AdversarialLoss = "non-saturating", *, d_steps: int = 1, gp_weight: float = 10.0,
                 ema_decay: float = 0.0, translate: float = 0.0) -> None:
        super().__init__(loss=loss, d_steps=d_steps, gp_weight=gp_weight, ema_decay=ema_decay, translate=translate)

    @property
    def penalty_weight(self) -> float:
        """The gradient penalty's weight: ``gp_weight`` with the Wasserstein loss, 0 with the others."""
        return self.gp_weight if self.loss_kind == "wasserstein-gp" else 0.0

    def _critic(self, model: Any, images: Tensor) -> Tensor:
        if self.translate > 0:
            images = translate_randomly(images, self.translate)
        return model.discriminator(images)  # (N,)

    def updates(self, model: Any) -> list[tuple[str, nn.Module, int]]:
        if not isinstance(model, GAN):
            raise TrainingError(f"Adversarial trains a GAN (.generator and .discriminator modules); "
                                f"{type(model).__name__} is not one")
        return [("discriminator", model.discriminator, self.d_steps), ("generator", model.generator, 1)]

    def loss(self, model: Any, network: str, batch: Data) -> tuple[Tensor, Logs]:
        real = batch.images
        n = real.shape[0]
        if network == "discriminator":
            with torch.no_grad():
                fake = gan_fakes(model, n)
            real_logits, fake_logits = self._critic(model, real), self._critic(model, fake)  # (N,), (N,)
            if self.loss_kind == "non-saturating":
                loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
            elif self.loss_kind == "hinge":
                loss = F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()
            else:
                loss = fake_logits.mean() - real_logits.mean()
            logs = {"loss/discriminator": loss.detach()}
            if self.penalty_weight > 0:
                penalty = self._gradient_penalty(model.discriminator, real, fake)
                loss = loss + self.penalty_weight * penalty
                logs["gradient_penalty"] = penalty.detach()
            return loss, logs
        if network == "generator":
            fake = gan_fakes(model, n)
            if not fake.requires_grad:
                raise TrainingError(
                    f"{type(model).__name__}'s samples carry no gradient, so its generator cannot learn; sample(n) "
                    "must keep the autograd graph in training mode (disable grad only under torch.no_grad())"
                )
            fake_logits = self._critic(model, fake)
            loss = F.softplus(-fake_logits).mean() if self.loss_kind == "non-saturating" else -fake_logits.mean()
            return loss, {"loss/generator": loss.detach()}
        raise TrainingError(f"Adversarial objective has no network {network!r}")

    @staticmethod
    def _gradient_penalty(discriminator: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
        alpha = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype)
        mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(discriminator(mixed).sum(), mixed, create_graph=True)
        return (grad.flatten(1).norm(dim=1) - 1.0).pow(2).mean()

    def finalize(self, model: Any, data: Data) -> None:
        return None

    @property
    def needs_finalize_data(self) -> bool:
        """False: :meth:`finalize` reads no data, so the trainer reads none from a streamed dataset for it."""
        return False

    def after_update(self, model: Any, network: str) -> None:
        # Cheap tests first: the protocol check (tens of microseconds) runs only when there is an EMA to update.
        if network != "generator" or self.ema_decay <= 0:
            return
        ema = ema_generator_of(model)
        if ema is not None:
            update_ema(ema, model.generator, self.ema_decay)


@torch.no_grad()
def update_ema(ema: nn.Module, source: nn.Module, decay: float) -> None:
    """Move every floating-point parameter and buffer of ``ema`` towards ``source``'s: ``e += (1 - decay) (s - e)``."""
    pairs = zip([*ema.parameters(), *ema.buffers()], [*source.parameters(), *source.buffers()], strict=True)
    floats = [(e, s) for e, s in pairs if e.is_floating_point()]
    torch._foreach_lerp_([e for e, _ in floats], [s for _, s in floats], 1.0 - decay)


def translate_randomly(images: Tensor, fraction: float) -> Tensor:
    """Shift each image ``(N, C, H, W)`` by a random whole number of pixels, up to ``fraction`` of its size.

    Vacated pixels are zero. Built from indexing, so gradients flow to the input (needed for fakes).
    """
    n, _, h, w = images.shape
    max_y, max_x = max(1, round(h * fraction)), max(1, round(w * fraction))
    device = images.device
    dy = torch.randint(-max_y, max_y + 1, (n, 1, 1), device=device)
    dx = torch.randint(-max_x, max_x + 1, (n, 1, 1), device=device)
    rows = torch.arange(h, device=device).view(1, h, 1)
    cols = torch.arange(w, device=device).view(1, 1, w)
    # A one-pixel zero border: indices pushed outside the image land on it.
    padded = F.pad(images, (1, 1, 1, 1)).permute(0, 2, 3, 1)  # (N, H+2, W+2, C)
    ys = (rows + dy + 1).clamp(0, h + 1)  # (N, H, 1)
    xs = (cols + dx + 1).clamp(0, w + 1)  # (N, 1, W)
    batch = torch.arange(n, device=device).view(n, 1, 1)
    return padded[batch, ys, xs].permute(0, 3, 1, 2)  # (N, C, H, W)


def default_objective(model: nn.Module) -> Objective | None:
    """The objective the protocols of ``model`` imply, or None for a family without one."""
    family = family_of(model)
    if family == "gan":
        return Adversarial()
    if family == "variational-autoencoder":
        # A VAE with a latent sampler has it fitted to the encoded training set after training.
        return ELBO(fit_sampler=isinstance(model, LatentSampler))
    if family == "autoencoder":
        return Reconstruction(corruption=model.corrupt if isinstance(model, Denoiser) else None)
    if family == "classifier" and isinstance(model, Classifier):
        return Classification()
    return None


def objective_for(model: nn.Module, factory: Callable[[nn.Module], Objective] | None) -> Objective:
    """The objective a variant names, or the one its protocols imply."""
    objective = factory(model) if factory is not None else default_objective(model)
    if objective is None:
        raise TrainingError(
            f"{type(model).__name__} names no objective and is neither a GAN (.generator and .discriminator), an "
            "autoencoder (encode/decode/forward) nor a classifier (features/forward); give its ModelSpec an "
            "`objective=`, a callable (model) -> zoo.train.Objective"
        )
    if not isinstance(objective, Objective):
        raise TrainingError(
            f"{objective!r} lacks updates()/loss()/after_update()/finalize(); see zoo.train.Objective"
        )
    return objective
