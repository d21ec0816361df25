r"""Histogram of each binary layer's initial latent weights and of those whose sign never flipped
(OvSW, Xiang et al., seed 001, Fig. 1a-b: "the initialized weight distribution (blue) and the
weights that never update signs throughout training (orange)", layer4.conv2 of ResNet-18).

Bins. For a weight tensor :math:`W_0` as it is before the first optimizer step, let
:math:`m = \max_i |W_{0,i}|` (:math:`m = 1` when :math:`W_0` is all zero or empty). The
:data:`BINS` = 40 bins split :math:`[-m, m]` evenly, with edges

.. math::
    e_k = m \cdot \frac{k - B/2}{B/2}, \qquad k = 0, \dots, B, \quad B = 40,

so :math:`e_{B/2} = 0` exactly and the edges are symmetric; bin :math:`k` is
:math:`[e_k, e_{k+1})`, the last one closed, :math:`[e_{B-1}, e_B]` (NumPy's ``histogram``
convention). Scaling by the layer's own :math:`m` makes layers and runs comparable (bin
:math:`k` is the same fraction of each layer's range) and puts every entry in a bin: the
``initial`` counts of a layer sum to its number of entries.

What is kept. Per entry, only its bin index, as ``uint8`` (1 byte per weight, a quarter of a
float32 copy of the initial weights), and the layer's :math:`B + 1` edges; both are part of the
flip tracker's state and so of the checkpoint (``methods.flips``). At the end, with
:math:`\text{never}_i \in \{0, 1\}` the tracker's never-flipped indicator,

.. math::
    \text{initial}_k = \#\{i : b_i = k\}, \qquad
    \text{never\_flipped}_k = \#\{i : b_i = k,\ \text{never}_i = 1\} \le \text{initial}_k.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

BINS = 40
FILE_NAME = "weight_histogram.csv"
COLUMNS = ["order", "name", "bin", "bin_low", "bin_high", "initial_count", "never_flipped_count"]


def bin_edges(weight: Tensor, bins: int = BINS) -> Tensor:
    """The ``bins + 1`` float32 edges :math:`e_k = m (k - B/2) / (B/2)` over :math:`[-m, m]`,
    :math:`m = \\max |w|` (1 when that is 0 or ``weight`` is empty), on ``weight``'s device."""
    w = weight.detach()
    m = w.abs().amax().float() if w.numel() else torch.zeros((), device=w.device)
    m = torch.where(m > 0, m, torch.ones_like(m))
    half = bins // 2
    steps = torch.arange(-half, bins - half + 1, device=w.device, dtype=torch.float32) / half
    return steps * m


def bin_indices(weight: Tensor, edges: Tensor) -> Tensor:
    """The bin of every entry of ``weight`` (``uint8``, same shape): :math:`k` with
    :math:`e_k \\le w < e_{k+1}`, clamped into :math:`[0, B-1]` (so :math:`w = e_B` is in the
    last bin)."""
    index = torch.bucketize(weight.detach().float().contiguous(), edges[1:-1].contiguous(), right=True)
    return index.clamp_(0, len(edges) - 2).to(torch.uint8)


def counts(bins: Tensor, never: Tensor, n_bins: int) -> tuple[Tensor, Tensor]:
    """(initial, never_flipped) counts per bin (int64, on the CPU) of one tensor: every entry,
    and the entries whose ``never`` indicator is 1."""
    b = bins.detach().reshape(-1).to("cpu", torch.long)
    kept = never.detach().reshape(-1).to("cpu") > 0.5
    return torch.bincount(b, minlength=n_bins), torch.bincount(b[kept], minlength=n_bins)


def histogram_rows(
    layers: Sequence[tuple[int, str]],
    bins: Sequence[Tensor],
    edges: Sequence[Tensor],
    never: Sequence[Tensor],
) -> list[dict[str, Any]]:
    """The rows of ``weight_histogram.csv`` (:data:`COLUMNS`): one per layer and bin, the
    layers in the given (execution) order."""
    rows = []
    for (order, name), b, e, n in zip(layers, bins, edges, never, strict=True):
        e = e.detach().to("cpu", torch.float64)
        initial, kept = counts(b, n, len(e) - 1)
        for k in range(len(e) - 1):
            rows.append(
                {
                    "order": order,
                    "name": name,
                    "bin": k,
                    "bin_low": float(e[k]),
                    "bin_high": float(e[k + 1]),
                    "initial_count": int(initial[k]),
                    "never_flipped_count": int(kept[k]),
                }
            )
    return rows
