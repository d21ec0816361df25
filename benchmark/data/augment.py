"""Vectorised batch augmentation: zero-padded random crop and random horizontal flip.

This is the standard CIFAR augmentation (He et al. 2016, "Deep Residual Learning", sec. 4.2;
torchvision's classification reference ``RandomCrop(32, padding=4)`` followed by
``RandomHorizontalFlip()``): pad each image with ``pad`` zero pixels on every side (zero in
raw pixel units, i.e. black, before normalisation), cut out a random ``H x W`` window, and
mirror the window left-right with probability 1/2.

The random parameters of a whole epoch are drawn at once by :func:`draw_params` and sliced per
batch, so a resumed epoch can skip its first batches without replaying any random draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Augmentation:
    """What a dataset's ``augment=True`` does: ``pad`` pixels of random crop, optional flip."""

    pad: int = 0
    flip: bool = False

    @property
    def is_identity(self) -> bool:
        """True when augmenting changes nothing (and so draws nothing from the generator)."""
        return self.pad == 0 and not self.flip


@dataclass(frozen=True)
class AugmentParams:
    """Per-image random parameters, one row per image in epoch order.

    ``offsets``: int64 [N, 2], the (row, column) of the crop window's top-left corner in the
    padded image, each in ``[0, 2 * pad]`` (``pad, pad`` is the un-shifted image).
    ``flips``: bool [N], whether the cropped window is mirrored left-right.
    """

    offsets: torch.Tensor
    flips: torch.Tensor

    def __getitem__(self, index: slice) -> AugmentParams:
        return AugmentParams(self.offsets[index], self.flips[index])

    def to(self, device: torch.device) -> AugmentParams:
        return AugmentParams(self.offsets.to(device), self.flips.to(device))


def draw_params(aug: Augmentation, n: int, generator: torch.Generator | None) -> AugmentParams:
    """Draw crop offsets, then flips, for ``n`` images; parts that are off draw nothing."""
    offsets = torch.full((n, 2), aug.pad, dtype=torch.int64)
    if aug.pad > 0:
        offsets = torch.randint(0, 2 * aug.pad + 1, (n, 2), generator=generator)
    flips = torch.zeros(n, dtype=torch.bool)
    if aug.flip:
        flips = torch.randint(0, 2, (n,), generator=generator).bool()
    return AugmentParams(offsets, flips)


def apply_augmentation(images: torch.Tensor, params: AugmentParams, pad: int) -> torch.Tensor:
    """Crop (and flip) a batch with two gathers; any dtype (uint8 stays uint8).

    ``images`` [B, C, H, W] -> [B, C, H, W] with
    ``out[b, c, i, j] = padded[b, c, r_b + i, c_b + (W - 1 - j if flip_b else j)]``,
    where ``padded`` is ``images`` zero-padded by ``pad`` and ``(r_b, c_b) = offsets[b]``
    (crop first, then mirror the crop, as torchvision's transform order does).
    """
    b, c, h, w = images.shape
    padded = F.pad(images, (pad, pad, pad, pad)) if pad > 0 else images
    # Separable gathers (rows, then columns) run faster than one 4-D advanced index.
    rows = params.offsets[:, 0:1] + torch.arange(h, device=images.device)  # [B, H]
    rows = rows.view(b, 1, h, 1).expand(b, c, h, padded.shape[3])
    j = torch.arange(w, device=images.device)
    cols = params.offsets[:, 1:2] + torch.where(params.flips[:, None], w - 1 - j, j)  # [B, W]
    return padded.gather(2, rows).gather(3, cols.view(b, 1, 1, w).expand(b, c, h, w))
