r"""Sign-flip statistics of binary weights (OvSW's "silent weights", Bop's flip ratio).

For every binary weight tensor :math:`W` the tracker keeps the sign seen after the previous
optimizer step, :math:`s_{t-1} = \operatorname{sign}(W_{t-1})`, and after each step counts

.. math::
    \text{flipped}_t = \tfrac12 (1 - s_t s_{t-1}) \in \{0, 1\}, \qquad
    \text{never}_t = \text{never}_{t-1} \cdot (1 - \text{flipped}_t),

with :math:`\text{never}_0 = 1` (sign(0) = +1, so signs are exactly :math:`\pm 1`). Reported per
epoch, in percent of the tensor's entries:

- ``never_flipped``: entries whose sign has not changed once since training began (OvSW,
  Xiang et al., seed 001, Fig. 1: 54.07% of layer4.conv2 under vanilla STE on CIFAR-100);
- ``flip_ratio``: entries flipped per step, averaged over the epoch's steps (Bop, Helwegen
  et al. 2019, Sec. 5: the ratio of weights flipped per iteration).

The per-step update is a handful of fused ``torch._foreach_*`` calls over all tensors and
never synchronizes with the device.

The trainer keeps one tracker per run over the method's :meth:`~methods.protocol.Method.binary_weights`
(:meth:`FlipTracker.observe`) and updates it after each step, so that every method gets these
statistics whatever its hooks do; :func:`epoch_records` appends them to the method's own metrics.
It also keeps each initial weight's histogram bin (``methods.weight_histogram``), so that at the
end :meth:`FlipTracker.histogram_rows` gives the initial weights' histogram and that of the
never-flipped ones (``weight_histogram.csv``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from methods import weight_histogram

if TYPE_CHECKING:
    from methods.protocol import Method

HISTOGRAM_FILE = weight_histogram.FILE_NAME  # written by the trainer when a run ends


def signs_of(tensors: list[Tensor]) -> list[Tensor]:
    """sign with sign(0) = +1 over a list of tensors: sign(sign(x) + 1/2)."""
    signs = torch._foreach_sign(tensors)
    torch._foreach_add_(signs, 0.5)
    torch._foreach_sign_(signs)
    return signs


class FlipTracker:
    """Counts sign flips of ``tensors`` (updated in place by the optimizer) step by step;
    ``layers`` gives each tensor's (execution index, name) for the per-layer rows."""

    def __init__(self, tensors: list[Tensor], layers: Sequence[tuple[int, str]] = ()) -> None:
        self.tensors = tensors
        self.layers = list(layers)
        with torch.no_grad():
            self.prev = signs_of([t.detach() for t in tensors]) if tensors else []
        self.never = [torch.ones_like(t) for t in self.prev]
        self.edges = [weight_histogram.bin_edges(t) for t in tensors]  # of the initial weights
        self.bins = [weight_histogram.bin_indices(t, e) for t, e in zip(tensors, self.edges, strict=True)]
        self.flips = [torch.zeros((), device=t.device) for t in self.prev]  # this epoch
        self.steps = 0  # steps counted this epoch

    @torch.no_grad()
    def update(self) -> None:
        """Count the flips of the step that just ended."""
        if not self.tensors:
            return
        signs = signs_of([t.detach() for t in self.tensors])
        flipped = torch._foreach_mul(signs, self.prev)  # +1 kept, -1 flipped
        torch._foreach_mul_(flipped, -0.5)
        torch._foreach_add_(flipped, 0.5)  # 1 flipped, 0 kept
        torch._foreach_add_(self.flips, torch._foreach_norm(flipped, 1))
        torch._foreach_mul_(flipped, -1.0)
        torch._foreach_add_(flipped, 1.0)  # 1 kept, 0 flipped
        torch._foreach_mul_(self.never, flipped)
        self.prev = signs
        self.steps += 1

    @classmethod
    def observe(cls, method: Method) -> FlipTracker:
        """A tracker of ``method``'s binary weights, labelled by their layers."""
        return cls(method.binary_weights(), method.weight_layers())

    def layer_rows(self) -> list[dict[str, Any]]:
        """``order``, ``name``, ``never_flipped`` and ``flip_ratio`` (percent) per tensor, for this
        epoch; none when the tensors are not one per labelled layer."""
        if len(self.layers) != len(self.never):
            return []
        steps = max(self.steps, 1)
        return [
            {
                "order": order,
                "name": name,
                "never_flipped": 100.0 * float(never.sum()) / never.numel(),
                "flip_ratio": 100.0 * float(flips) / (never.numel() * steps),
            }
            for (order, name), never, flips in zip(self.layers, self.never, self.flips, strict=True)
        ]

    def summary(self) -> dict[str, float]:
        """The same two numbers over all tensors together (weighted by size)."""
        if not self.tensors:
            return {}
        total = sum(n.numel() for n in self.never)
        steps = max(self.steps, 1)
        return {
            "never_flipped": 100.0 * float(sum(n.sum() for n in self.never)) / total,
            "flip_ratio": 100.0 * float(sum(self.flips)) / (total * steps),
        }

    def histogram_rows(self) -> list[dict[str, Any]]:
        """``weight_histogram.csv``: per layer and bin, the initial weights and the never-flipped
        ones (``methods.weight_histogram``); a tensor without its layer is named ``""`` and
        ordered by its index."""
        layers = self.layers
        if len(layers) != len(self.never):
            layers = [(i, "") for i in range(len(self.never))]
        return weight_histogram.histogram_rows(layers, self.bins, self.edges, self.never)

    def new_epoch(self) -> None:
        """Start counting the next epoch's flip ratio (never-flipped carries on)."""
        for f in self.flips:
            f.zero_()
        self.steps = 0

    def state_dict(self) -> dict[str, Any]:
        return {
            "prev": self.prev,
            "never": self.never,
            "flips": self.flips,
            "steps": self.steps,
            "edges": self.edges,
            "bins": self.bins,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Load :meth:`state_dict`; a checkpoint written before the histogram state existed keeps
        the bins computed at construction (the same initial weights: a resumed run is built
        from the same seed before the checkpoint is loaded)."""
        for name in ("prev", "never", "flips", *(k for k in ("edges", "bins") if k in state)):
            for mine, saved in zip(getattr(self, name), state[name], strict=True):
                mine.copy_(saved)
        self.steps = int(state["steps"])


def attach(rows: list[dict[str, Any]], flips: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A method's per-layer rows, each followed by the flip statistics of the layer with the same
    ``order``; the flip rows alone when the method has no rows of its own."""
    if not rows:
        return flips
    by_order = {r["order"]: r for r in flips}
    extra = [
        {k: v for k, v in by_order.get(r["order"], {}).items() if k not in ("order", "name")} for r in rows
    ]
    return [{**row, **more} for row, more in zip(rows, extra, strict=True)]


def epoch_records(method: Method, flips: FlipTracker) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """The method's metrics and per-layer rows for one epoch, each followed by the flip statistics:
    a row of ``metrics.csv`` and the epoch's rows of ``layers.csv``."""
    metrics = {**method.epoch_metrics(), **flips.summary()}
    return metrics, attach(method.layer_metrics(), flips.layer_rows())
