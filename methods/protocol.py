"""The method protocol: the only interface the training loop knows (DESIGN 3).

The loop calls, in this order::

    model = method.convert(model, example)             # swap binarizable layers
    optimizers = method.configure_optimizers(model, build)
    method.setup(total_steps, device)
    for each epoch:
      method.start_epoch(epoch)
      for each step:
        method.before_forward(step)                    # schedules, masks
        loss.backward()
        method.after_backward(step)                    # gradient rewriting
        optimizer.step()
        method.after_step(step)                        # clipping, pruning, flip counts
    with method.evaluating("binary", epoch): ...      # the fully binary network
    with method.evaluating("as_trained", epoch): ...  # current masks, seeded draws
    method.epoch_metrics(), method.layer_metrics()
    method.state_dict() / load_state_dict()            # checkpoints

A method never imports ``benchmark``; models know nothing about binarization.

The base class counts sign flips of :meth:`Method.binary_weights` (``methods.flips``) for
every method: a subclass that overrides ``setup``, ``start_epoch``, ``after_step``, the
metrics or the state calls ``super()`` and merges what it returns.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn

from methods.config import MethodConfig
from methods.convert import binarizable_layers, replace_activations, swap_layers
from methods.flips import FlipTracker
from methods.layers import QuantizedMixin

Regime = Literal["bnn", "bwn", "fp"]
EvalMode = Literal["binary", "as_trained"]
OptimizerFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]


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
        self.flips = FlipTracker([])

    # -- conversion ---------------------------------------------------------------------
    def weight_quantizer(self, name: str, module: nn.Module) -> nn.Module | None:
        """The quantizer for layer ``name``'s weight (None: full precision)."""
        return None

    def input_quantizer(self, name: str, module: nn.Module) -> nn.Module | None:
        """The quantizer for layer ``name``'s input (None: full precision)."""
        return None

    def convert(self, model: nn.Module, example: Tensor) -> nn.Module:
        """Swap every binarizable layer (all Conv2d/Linear but the first and the last, in
        execution order) for a binary layer. In the ``bnn`` regime ReLUs become identities:
        the binary layers' input quantizers bound the activations, and a ReLU before a sign
        would make every binary activation +1."""
        names = binarizable_layers(model, example)
        swap_layers(model, names, self._make_quantizers)
        if self.regime == "bnn":
            replace_activations(model, nn.ReLU, nn.Identity)
        self.layer_names = names
        self.layers = [model.get_submodule(n) for n in names]  # type: ignore[misc]
        return model

    def _make_quantizers(self, name: str, module: nn.Module) -> tuple[nn.Module | None, nn.Module | None]:
        input_q = self.input_quantizer(name, module) if self.regime == "bnn" else None
        return self.weight_quantizer(name, module), input_q

    # -- optimisation -------------------------------------------------------------------
    def configure_optimizers(self, model: nn.Module, build: OptimizerFactory) -> list[torch.optim.Optimizer]:
        """By default the recipe's optimizer over every parameter."""
        return [build(model.parameters())]

    def setup(self, total_steps: int, device: torch.device) -> None:
        """Called once before training with the run's total number of optimizer steps."""
        self.flips = FlipTracker(self.binary_weights())

    def start_epoch(self, epoch: int) -> None:
        """Called before the first step of each epoch (1-based)."""
        self.flips.new_epoch()

    def before_forward(self, step: int) -> None:
        """Called before each training forward pass (0-based global step)."""

    def after_backward(self, step: int) -> None:
        """Called after ``backward`` and before the optimizer step."""

    def after_step(self, step: int) -> None:
        """Called after the optimizer step; counts sign flips (subclasses call super last)."""
        self.flips.update()

    # -- evaluation and metrics ---------------------------------------------------------
    @property
    def as_trained_differs(self) -> bool:
        """Whether the network as trained differs from the fully binary network."""
        return False

    @contextlib.contextmanager
    def evaluating(self, mode: EvalMode, epoch: int) -> Iterator[None]:
        """Context in which the model evaluates as ``mode`` ("binary": everything binary)."""
        yield

    def epoch_metrics(self) -> dict[str, float]:
        """Method metrics for this epoch's row of ``metrics.csv``: by default the share of
        binary weights that never flipped and the flip ratio (``methods.flips``)."""
        return self.flips.summary()

    def layer_metrics(self) -> list[dict[str, Any]]:
        """One dict per binary layer for ``layers.csv`` (order, name, flip statistics, ...).

        By default one row per tensor of :meth:`binary_weights`, which is one per binary layer
        unless a subclass says otherwise."""
        tracked = [
            (i, n)
            for i, (n, layer) in enumerate(zip(self.layer_names, self.layers, strict=True))
            if layer.binarizes_weight
        ]
        rows = self.flips.layer_rows()
        if len(rows) != len(tracked):
            return []
        return [{"order": i, "name": n, **r} for (i, n), r in zip(tracked, rows, strict=True)]

    # -- checkpoints --------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Method state that is not already in the model's or optimizers' state dicts."""
        return {"flips": self.flips.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.flips.load_state_dict(state["flips"])

    # -- helpers ------------------------------------------------------------------------
    def binary_weights(self) -> list[Tensor]:
        """Latent weights of the binary layers that binarize their weight."""
        return [layer.weight for layer in self.layers if layer.binarizes_weight]
