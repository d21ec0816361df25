"""MobileNetV2, CIFAR variant (Sandler et al., "MobileNetV2: Inverted Residuals and Linear
Bottlenecks", CVPR 2018, arXiv 1801.04381; the StoMPP paper reports it as a BNN).

The paper's Table 2 body, unchanged: seven stages of inverted residual blocks
``(t, c, n, s)`` = expansion, output channels, blocks, stride of the first block::

    (1, 16, 1, 1) (6, 24, 2, 2) (6, 32, 3, 2) (6, 64, 4, 2) (6, 96, 3, 1) (6, 160, 3, 2) (6, 320, 1, 1)

CIFAR changes, as the common CIFAR implementation (kuangliu/pytorch-cifar,
``models/mobilenetv2.py``: "change conv1 stride 2 -> 1", "change stride 2 -> 1 for CIFAR10"):

* the stem (3x3 conv, 32 channels) has stride 1 instead of 2;
* the second stage ``(6, 24, 2, 2)`` has stride 1 instead of 2.

So a 32x32 image is downsampled 8x (in the 32-, 64- and 160-channel stages) and reaches the
final 1x1 convolution at 4x4, where ImageNet's 224x224 reaches it at 7x7.

Structure (``w`` = ``width``; channel counts rounded as in the paper, see below)::

    conv1 3x3 stride 1 (in -> 32w) - bn1 - relu1
    layers: 17 InvertedResidual blocks (the table above, CIFAR strides)
        expand 1x1 (cin -> t*cin) - BN - ReLU6     (absent when t = 1, as in the paper)
        depthwise 3x3 (groups = t*cin, stride s) - BN - ReLU6
        project 1x1 (t*cin -> cout) - BN           (linear bottleneck: no activation)
        + x when s = 1 and cin = cout (the paper's residual; no shortcut otherwise)
    conv2 1x1 (320w -> max(1280, 1280w)) - bn2 - relu2 - global average pool - fc

Decisions, and where they differ from the sources:

* The blocks are the paper's (and torchvision's): no expansion convolution when t = 1 and no
  projection shortcut where the shape changes (kuangliu's CIFAR code adds both), so at
  every width the parameter count is torchvision's ``mobilenet_v2(width_mult=w)`` for the
  same classes (2_236_682 at width 1 for 10 classes; strides hold no parameters).
* No dropout before the classifier (torchvision has ``Dropout(0.2)`` for ImageNet; the
  CIFAR implementation has none).
* ``width`` is the paper's width multiplier, not the ``max(1, round(c * w))`` of the other
  architectures here: every count ``c * w`` is rounded to the nearest multiple of 8, at least
  8 and never more than 10% below ``c * w`` (the reference TF-slim code's rule, also
  torchvision's ``_make_divisible``), the expansion ``t * cin`` is rounded to an integer, and
  the final 1x1 convolution keeps 1280 channels for multipliers below 1 (paper, Sec. 5.1).
  Besides fidelity, the floor of 8 keeps tiny widths (0.0625) free of one-channel stages,
  whose 1x1 convolutions would have single-element filters (OvSW's standardized weight
  scale is undefined there).
* Full precision: the stem ``conv1`` and the classifier ``fc`` (first and last layer, the
  convention of every method here). The final 1x1 convolution ``conv2`` *is* binarized:
  it is neither first nor last, and its input is the linear bottleneck of the last block,
  a signed activation whose sign carries information. Depthwise convolutions are binarized
  like every other convolution (``methods.layers`` keeps ``groups``).
* Every nonlinearity is its own ``nn.ReLU6`` module. In the ``bnn`` regime they become
  identities (declared ``activations=(nn.ReLU6,)``): a ReLU6 in front of a sign would
  make every binary activation +1 (ReLU6(x) >= 0 and sign(0) = +1), so the binary layer
  would see a constant. In ``bwn`` they stay.
* Initialization as torchvision's (``models/mobilenetv2.py``): Kaiming normal (fan out) for
  convolutions, N(0, 0.01) weights and zero bias for the classifier.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import Tensor, nn

from benchmark.data.inputs import Inputs
from benchmark.models.registry import register_arch

# (expansion t, output channels c, blocks n, stride s), Sandler et al. Table 2 with the CIFAR
# stride of the 24-channel stage (kuangliu/pytorch-cifar).
STAGES = (
    (1, 16, 1, 1),
    (6, 24, 2, 1),  # stride 2 in the paper
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
STEM_CHANNELS = 32  # Table 2, first row
LAST_CHANNELS = 1280  # Table 2, the 1x1 convolution before the pool


def _scaled(channels: int, width: float, divisor: int = 8) -> int:
    """``channels * width`` to the nearest multiple of ``divisor`` (at least ``divisor``), one
    ``divisor`` up if that lost more than 10% (TF-slim's MobileNet code; torchvision)."""
    target = channels * width
    rounded = max(divisor, int(target + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * target else rounded


def _conv_bn(
    cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, relu6: bool = True
) -> nn.Sequential:
    """``conv`` (padding keeps the size at stride 1) - ``bn`` [- ``relu`` (ReLU6)]."""
    conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=False)
    parts: list[tuple[str, nn.Module]] = [("conv", conv), ("bn", nn.BatchNorm2d(cout))]
    if relu6:
        parts.append(("relu", nn.ReLU6()))
    return nn.Sequential(OrderedDict(parts))


class InvertedResidual(nn.Module):
    """Expand (1x1) - depthwise (3x3) - project (1x1, linear); a residual when shapes allow.

    (N, cin, H, W) -> (N, cout, ceil(H / stride), ceil(W / stride)).
    """

    def __init__(self, cin: int, cout: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = round(cin * expansion)
        self.expand: nn.Module = _conv_bn(cin, hidden, 1) if expansion != 1 else nn.Identity()
        self.depthwise = _conv_bn(hidden, hidden, 3, stride, groups=hidden)
        self.project = _conv_bn(hidden, cout, 1, relu6=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: Tensor) -> Tensor:
        out = self.project(self.depthwise(self.expand(x)))
        return out + x if self.residual else out


class MobileNetV2(nn.Module):
    """3x3 stride-1 stem, 17 inverted residual blocks, 1x1 conv to 1280, pool, linear classifier."""

    def __init__(self, in_channels: int = 3, num_classes: int = 10, width: float = 1.0) -> None:
        super().__init__()
        cin, last = _scaled(STEM_CHANNELS, width), _scaled(LAST_CHANNELS, max(1.0, width))
        self.conv1 = nn.Conv2d(in_channels, cin, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cin)
        self.relu1 = nn.ReLU6()
        blocks = []
        for t, c, n, s in STAGES:
            for i in range(n):
                blocks.append(InvertedResidual(cin, _scaled(c, width), s if i == 0 else 1, t))
                cin = _scaled(c, width)
        self.layers = nn.Sequential(*blocks)
        self.conv2 = nn.Conv2d(cin, last, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(last)
        self.relu2 = nn.ReLU6()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(last, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
        nn.init.normal_(self.fc.weight, 0.0, 0.01)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.layers(self.relu1(self.bn1(self.conv1(x))))
        x = self.relu2(self.bn2(self.conv2(x)))
        return self.fc(self.pool(x).flatten(1))


# Stem and classifier stay float (first and last layer); every ReLU6 becomes an identity in a
# BNN, since ReLU6 before a sign would make every binary activation +1.
@register_arch("mobilenetv2", full_precision=("conv1", "fc"), activations=(nn.ReLU6,))
def mobilenetv2(inputs: Inputs, num_classes: int, width: float = 1.0) -> MobileNetV2:
    return MobileNetV2(inputs.in_channels, num_classes, width)
