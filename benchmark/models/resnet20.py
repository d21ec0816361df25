"""Bi-Real-style CIFAR ResNet-20, as binarized by IR-Net, RBNN, ReCU, OvSW and PaBT.

Source: OvSW's reference code (JingyangXiang/OvSW, ``model/models/resnet_cifar_v2.py``,
``cResNet20_1w1a``), itself IR-Net's ``resnet-20-cifar10/1w1a`` model (Qin et al., CVPR 2020)
on top of He et al.'s CIFAR ResNet-20 (CVPR 2016, Sec. 4.2) with Bi-Real Net's shortcut
around every convolution (Liu et al., ECCV 2018). OvSW, Table 1; PaBT, Table 3.

Structure (``w`` = ``width``, every channel count ``max(1, round(c * w))``)::

    conv1 3x3 (in -> 16w) - bn1 - relu - clip
    layer1..layer3: 3 BasicBlocks each, widths 16w, 32w, 64w; the first block of layer2
        and layer3 has stride 2. A BasicBlock is two residual *units*:
            x = clip1(relu1(bn1(conv1(x)) + shortcut(x)))    # conv1 may have stride 2
            x = clip2(relu2(bn2(conv2(x)) + x))
    global average pool - bn2 (BatchNorm1d) - fc

``relu*`` are ``nn.ReLU``, ``clip*`` ``nn.Hardtanh`` (clip to [-1, 1]).

That is 1 + 18 = 19 convolutions and one Linear; the shortcuts hold no parameters.

Decisions, and where they differ from the reference:

* Downsampling shortcut = ``AvgPool2d(2)`` followed by zero-padding the new channels
  (He et al.'s option A), exactly as the reference code; *not* the Bi-Real/ReActNet ImageNet
  convention (avgpool + 1x1 conv + BN). This keeps the He et al. parameter count
  (~0.27M) and every convolution a 3x3 one. The pool uses ``ceil_mode=True`` so odd
  feature maps match the strided convolution's ``ceil(H / 2)``; on even sizes it is the
  reference's pool.
* Activations: the reference clips the residual stream with ``F.hardtanh`` after the stem
  and after every unit's addition (``BasicBlock_1w1a.forward``, ``ResNet.forward``, as in the
  IR-Net model it comes from), so every shortcut carries values in [-1, 1] and every sign
  sees them. Here each of those places has an ``nn.ReLU`` (the float ResNet-20's
  nonlinearity, the type declared in ``activations``) followed by an ``nn.Hardtanh``, which is
  *not* declared and so survives the conversion, for every method. In the ``bnn`` regime the
  ReLU becomes an identity and what remains is the reference's hardtanh: the same forward
  (the shortcuts carry the clipped stream) and the same backward (no gradient through
  entries with |x| > 1). In ``fp`` and ``bwn`` the pair is min(max(x, 0), 1), a ReLU
  capped at 1 rather than He et al.'s plain ReLU: the price of one network for all regimes
  (the architecture does not know the regime; only the declared types are swapped).
* The BatchNorm1d before the classifier is the reference's (``bn2``); the classifier is
  named ``fc`` (``linear`` in the reference).
* Global average pooling is adaptive, so any input size works.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F

from benchmark.data.inputs import Inputs
from benchmark.models.registry import register_arch

WIDTHS = (16, 32, 64)
BLOCKS_PER_STAGE = 3


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


class PadShortcut(nn.Module):
    """Parameter-free shortcut: average-pool by ``stride``, then zero-pad channels to ``cout``.

    (N, cin, H, W) -> (N, cout, ceil(H / stride), ceil(W / stride)); the new channels are
    split as evenly as possible before and after the old ones (the reference pads
    ``planes // 4`` on each side when the width doubles).
    """

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(stride, ceil_mode=True) if stride > 1 else nn.Identity()
        extra = cout - cin
        self.pad = (extra // 2, extra - extra // 2)

    def forward(self, x: Tensor) -> Tensor:
        return F.pad(self.pool(x), (0, 0, 0, 0, *self.pad))


def _shortcut(cin: int, cout: int, stride: int) -> nn.Module:
    if stride == 1 and cin == cout:
        return nn.Identity()
    return PadShortcut(cin, cout, stride)


class BasicBlock(nn.Module):
    """Two Bi-Real units: a shortcut around each 3x3 convolution + BatchNorm."""

    def __init__(self, cin: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = _conv3x3(cin, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.shortcut = _shortcut(cin, planes, stride)
        self.relu1 = nn.ReLU()
        self.clip1 = nn.Hardtanh()
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu2 = nn.ReLU()
        self.clip2 = nn.Hardtanh()

    def forward(self, x: Tensor) -> Tensor:
        x = self.clip1(self.relu1(self.bn1(self.conv1(x)) + self.shortcut(x)))
        return self.clip2(self.relu2(self.bn2(self.conv2(x)) + x))


class ResNet20(nn.Module):
    """3x3 stem, three stages of three Bi-Real BasicBlocks, average pool, BN, linear classifier."""

    def __init__(self, in_channels: int = 3, num_classes: int = 10, width: float = 1.0) -> None:
        super().__init__()
        widths = [max(1, round(c * width)) for c in WIDTHS]
        self.conv1 = _conv3x3(in_channels, widths[0])
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU()
        self.clip = nn.Hardtanh()
        cin = widths[0]
        stages = []
        for i, planes in enumerate(widths):
            blocks = []
            for j in range(BLOCKS_PER_STAGE):
                blocks.append(BasicBlock(cin, planes, stride=2 if (i > 0 and j == 0) else 1))
                cin = planes
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.bn2 = nn.BatchNorm1d(cin)
        self.fc = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        x = self.clip(self.relu(self.bn1(self.conv1(x))))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.bn2(self.pool(x).flatten(1)))


# The stem and the classifier stay in full precision (the reference's first and last layer are
# float too); every ReLU becomes an identity in a BNN, the Hardtanh after it stays (see above).
@register_arch("resnet20", full_precision=("conv1", "fc"), activations=(nn.ReLU,))
def resnet20(inputs: Inputs, num_classes: int, width: float = 1.0) -> ResNet20:
    return ResNet20(inputs.in_channels, num_classes, width)
