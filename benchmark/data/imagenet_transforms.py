"""The ImageNet views of an image, each a pure function of the image and, for training, one seed.

Defaults are torchvision's classification reference recipe (``references/classification``:
``presets.py`` and the defaults of ``train.py``), the recipe of its ResNet weights, which
follows He et al. 2016 and Goyal et al. 2017:

- train: an Inception-style random resized crop (Szegedy et al. 2015, "Going deeper with
  convolutions", section 6; torchvision's ``RandomResizedCrop``): a box of 8% to 100% of the
  image area (uniform) with aspect ratio in [3/4, 4/3] (log-uniform), first of 10 tries that
  fits, else the whole image cut to the nearest allowed ratio; resized to 224x224; then a
  horizontal flip with probability 1/2;
- eval: the shorter side resized to 256, then the central 224x224 crop;
- resizing is bilinear with antialiasing (the reference's ``--interpolation bilinear`` and its
  presets' ``antialias=True``), with ``torchvision.transforms.v2.functional`` on uint8
  [3, H, W] tensors; fixed here because the default has changed between torchvision versions;
- normalisation by the ImageNet mean and std of the reference presets, (0.485, 0.456, 0.406)
  and (0.229, 0.224, 0.225) on [0, 1] pixels.

Randomness: every draw of a training view comes from its own ``torch.Generator`` seeded by
:func:`sample_seed` (the epoch's seed, the sample's position in the epoch), never from a global
RNG, so a view is the same whichever process computes it and whenever it is computed. Each view
makes the same number of draws (2 per try for all 10 tries, then top, left, flip).

Decoding: Pillow (``Image.open(...).convert("RGB")``, as torchvision's ``ImageFolder`` loads),
which also reads ImageNet's few CMYK and grayscale JPEGs and its one PNG named ``.JPEG``.
``torchvision.io.decode_image`` decodes the same pixels about 20% faster, but torchvision 0.29
deprecates it for removal (in favour of TorchCodec).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

CROP = 224  # train and eval crop (reference --train-crop-size, --val-crop-size)
RESIZE = 256  # eval: shorter side before the central crop (reference --val-resize-size)
SCALE = (0.08, 1.0)  # area fraction of the crop box (Szegedy et al. 2015; RandomResizedCrop)
RATIO = (3 / 4, 4 / 3)  # aspect ratio (width / height) of the crop box (idem)
TRIES = 10  # boxes tried before the central fallback (torchvision's RandomResizedCrop)
FLIP = 0.5  # probability of a horizontal flip (reference presets' hflip_prob)
INTERPOLATION = "bilinear"  # reference --interpolation, with antialias=True (an InterpolationMode value)
MEAN = (0.485, 0.456, 0.406)  # reference presets, on [0, 1] pixels
STD = (0.229, 0.224, 0.225)
DRAWS = 2 * TRIES + 3  # uniforms per training view: (area, log ratio) per try, top, left, flip


def _functional() -> Any:
    """``torchvision.transforms.v2.functional``, imported on first use: importing torchvision
    takes about 2 s (it loads ``torch._dynamo``), which every training process would otherwise pay
    at start, whatever its dataset."""
    from torchvision.transforms.v2 import functional

    return functional


def _interpolation() -> Any:
    """``INTERPOLATION`` as torchvision's ``InterpolationMode``."""
    from torchvision.transforms.v2 import InterpolationMode

    return InterpolationMode(INTERPOLATION)


@dataclass(frozen=True)
class Box:
    """A crop box in pixels: rows ``top`` .. ``top + height``, columns ``left`` .. ``left + width``."""

    top: int
    left: int
    height: int
    width: int


def decode(path: str) -> torch.Tensor:
    """The image file at ``path`` as uint8 RGB [3, H, W]."""
    with Image.open(path) as image:
        return _functional().pil_to_tensor(image.convert("RGB"))


def sample_seed(epoch_seed: int, position: int) -> int:
    """The seed of the sample at ``position`` of an epoch, in [0, 2**64): numpy's SeedSequence
    hash of the pair (well mixed, so neighbouring positions and epochs get unrelated streams)."""
    return int(np.random.SeedSequence([epoch_seed, position]).generate_state(1, np.uint64)[0])


def random_box(height: int, width: int, u: list[float]) -> Box:
    """The random resized crop's box for an image of ``height`` x ``width`` from the uniforms
    ``u`` in [0, 1) (``2 * TRIES + 2`` of them: the tries, then top and left)."""
    area = height * width
    low, high = math.log(RATIO[0]), math.log(RATIO[1])
    for k in range(TRIES):
        target = area * (SCALE[0] + (SCALE[1] - SCALE[0]) * u[2 * k])
        ratio = math.exp(low + (high - low) * u[2 * k + 1])
        w, h = round(math.sqrt(target * ratio)), round(math.sqrt(target / ratio))
        if 0 < w <= width and 0 < h <= height:
            top, left = int(u[-2] * (height - h + 1)), int(u[-1] * (width - w + 1))
            return Box(top, left, h, w)
    return central_box(height, width)


def central_box(height: int, width: int) -> Box:
    """The whole image, cut to the nearest allowed aspect ratio around its centre."""
    h, w = height, width
    if width / height < RATIO[0]:
        h = round(width / RATIO[0])
    elif width / height > RATIO[1]:
        w = round(height * RATIO[1])
    return Box((height - h) // 2, (width - w) // 2, h, w)


def train_view(image: torch.Tensor, seed: int) -> torch.Tensor:
    """Random resized crop and flip of a uint8 [3, H, W] image -> uint8 [3, CROP, CROP]."""
    u = torch.rand(DRAWS, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).tolist()
    box = random_box(image.shape[-2], image.shape[-1], u[: DRAWS - 1])
    F = _functional()
    view = F.resized_crop(
        image, box.top, box.left, box.height, box.width, [CROP, CROP], _interpolation(), antialias=True
    )
    return F.horizontal_flip(view) if u[-1] < FLIP else view


def eval_view(image: torch.Tensor) -> torch.Tensor:
    """Shorter side to RESIZE, central CROP x CROP: uint8 [3, H, W] -> uint8 [3, CROP, CROP]."""
    F = _functional()
    resized = F.resize(image, [RESIZE], _interpolation(), antialias=True)
    return F.center_crop(resized, [CROP, CROP])


def normalise(images: torch.Tensor) -> torch.Tensor:
    """uint8 [B, 3, H, W] -> float32 ``(pixels - 255 mean) / (255 std)`` per channel."""
    mean = torch.tensor(MEAN, dtype=torch.float32).mul_(255).view(3, 1, 1)
    std = torch.tensor(STD, dtype=torch.float32).mul_(255).view(3, 1, 1)
    return images.to(torch.float32).sub_(mean).div_(std)
