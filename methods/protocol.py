"""The method protocol: the only interface the training loop knows (DESIGN 3).

The loop calls, in this order::

    model = method.convert(model, example, arch)       # swap binarizable layers (make_layer)
    optimizers = optimizers_for(method, model, recipe) # methods.routing: recipe's + own_optimizers
    method.setup(total_steps, device)
    for each epoch:
      method.start_epoch(epoch)
      for each step: training_step(...)                # methods.step:
        method.before_forward(step)                    #   schedules, masks
        loss.backward()
        method.after_backward(step)                    #   gradient rewriting
        optimizer.step()
        method.after_step(step)                        #   clipping, pruning
    with method.evaluating("binary", epoch): ...      # the fully binary network
    with method.evaluating("as_trained", epoch): ...  # current masks, seeded draws
    method.epoch_metrics(), method.layer_metrics()
    method.state_dict() / load_state_dict()            # checkpoints

A method never imports ``benchmark``; models know nothing about binarization. What every
method shares is kept outside it, so that an override never has to call ``super()`` for it:
the sign-flip statistics of :meth:`Method.binary_weights` are observed by the trainer
(``methods.flips``), and the parameters no own optimizer claims go to the recipe's optimizer
(``methods.routing``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn

from methods.config import MethodConfig
from methods.convert import Binarizable, binarizable_layers, binary_layer, replace_activations, swap_layers
from methods.layers import QuantizedMixin

Regime = Literal["bnn", "bwn", "fp"]
EvalMode = Literal["binary", "as_trained"]


class Method:
    """Base class of every training method; subclasses override the hooks they need.

    Class attributes document the method for ``bnnbench methods`` and are the facts the
    workflow expands its grid with (``benchmark.facts``): ``regimes`` (``("fp",)``: full
    precision) and ``orderings``, which is not declared but read from the config: the choices of
    its ``ordering`` field, or none (a method without one runs once, with the ordering ``none``).
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    source: ClassVar[str] = ""
    config_class: ClassVar[type[MethodConfig]] = MethodConfig
    regimes: ClassVar[tuple[str, ...]] = ("bnn", "bwn")
    orderings: ClassVar[tuple[str, ...]] = ()
    has_ordering: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.orderings = cls.config_class.choices_of("ordering")
        cls.has_ordering = bool(cls.orderings)

    def __init__(self, config: MethodConfig, regime: str, seed: int) -> None:
        if regime not in self.regimes:
            raise ValueError(
                f"method '{self.name}' supports regime(s) {', '.join(self.regimes)}, not '{regime}'"
            )
        self.config = config
        self.regime = regime
        self.seed = seed
        self.layer_names: list[str] = []
        self.layers: list[QuantizedMixin] = []

    # -- conversion ---------------------------------------------------------------------
    def weight_quantizer(self, name: str, module: nn.Module) -> nn.Module | None:
        """The quantizer for layer ``name``'s weight (None: full precision)."""
        return None

    def input_quantizer(self, name: str, module: nn.Module) -> nn.Module | None:
        """The quantizer for layer ``name``'s input (None: full precision)."""
        return None

    def make_layer(self, name: str, module: nn.Module) -> nn.Module:
        """The binary layer that replaces the float layer ``name``: by default its binary twin
        (``methods.layers``) fed by this method's quantizers (the input's in ``bnn`` only)."""
        input_q = self.input_quantizer(name, module) if self.regime == "bnn" else None
        return binary_layer(module, self.weight_quantizer(name, module), input_q)

    def convert(self, model: nn.Module, example: Any, arch: Binarizable) -> nn.Module:
        """Swap every binarizable layer (every Conv2d/Linear that ``arch`` does not keep in full
        precision; execution order on ``example``, a batch as the model takes it) for
        :meth:`make_layer`'s. In the ``bnn`` regime the activations ``arch`` names become
        identities: the binary layers' input quantizers bound the activations, and a ReLU
        before a sign would make every binary activation +1."""
        names = binarizable_layers(model, example, arch)
        swap_layers(model, names, self.make_layer)
        if self.regime == "bnn":
            replace_activations(model, arch.activations, nn.Identity)
        self.layer_names = names
        self.layers = [model.get_submodule(n) for n in names]  # type: ignore[misc]
        return model

    # -- optimisation -------------------------------------------------------------------
    def own_optimizers(self, model: nn.Module) -> list[torch.optim.Optimizer]:
        """The optimizers this method brings for the parameters it claims (Bop's for binary
        weights); every other parameter goes to the recipe's optimizer. By default none."""
        return []

    def setup(self, total_steps: int, device: torch.device) -> None:
        """Called once before training with the run's total number of optimizer steps."""

    def start_epoch(self, epoch: int) -> None:
        """Called before the first step of each epoch (1-based)."""

    def before_forward(self, step: int) -> None:
        """Called before each training forward pass (0-based global step)."""

    def after_backward(self, step: int) -> None:
        """Called after ``backward`` and before the optimizer step."""

    def after_step(self, step: int) -> None:
        """Called after the optimizer step."""

    # -- evaluation and metrics ---------------------------------------------------------
    @property
    def as_trained_differs(self) -> bool:
        """Whether the network as trained differs from the fully binary network."""
        return False

    @contextlib.contextmanager
    def evaluating(self, mode: EvalMode, epoch: int) -> Iterator[None]:
        """Context in which the model evaluates as ``mode`` ("binary": everything binary).

        ``epoch`` keys whatever the evaluation draws (its own generator, never the training's):
        the epoch (1-based) at an epoch's end, ``-step`` for an evaluation after optimizer step
        ``step`` (``bnnbench train --eval-every``, ``benchmark.evals.key``)."""
        yield

    def epoch_metrics(self) -> dict[str, float]:
        """Method metrics for this epoch's row of ``metrics.csv`` (the flip statistics follow)."""
        return {}

    def layer_metrics(self) -> list[dict[str, Any]]:
        """One dict per binary layer for ``layers.csv``, each with ``order`` (execution index)
        and ``name``; the flip statistics of the layer are appended to it. None by default."""
        return []

    # -- checkpoints --------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Method state that is not already in the model's or optimizers' state dicts."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""

    # -- helpers ------------------------------------------------------------------------
    def binary_weights(self) -> list[Tensor]:
        """Latent weights of the binary layers that binarize their weight."""
        return [layer.weight for layer in self.layers if layer.binarizes_weight]

    def weight_layers(self) -> list[tuple[int, str]]:
        """(execution index, name) of each layer of :meth:`binary_weights`, in the same order."""
        pairs = zip(self.layer_names, self.layers, strict=True)
        return [(i, name) for i, (name, layer) in enumerate(pairs) if layer.binarizes_weight]
