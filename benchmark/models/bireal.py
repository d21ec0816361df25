"""Bi-Real Net 18/34 (Liu et al., "Bi-Real Net: Enhancing the Performance of 1-bit CNNs with
Improved Representational Capability and Advanced Training Algorithm", ECCV 2018,
arXiv 1808.00278; reference code liuzechun/Bi-Real-net, ``pytorch_implementation/BiReal18_34/
birealnet.py``). PaBT's Table 3 and Table 4 use it as a baseline structure.

Bi-Real's idea: a real-valued identity shortcut around *every* binary 3x3 convolution, so the
real activations before each sign reach the next unit. One *unit*::

    x <- bn(conv(clip(x))) + shortcut(x)        # the sign sits at conv's input, set by the method

Structure (``w`` = ``width``, every channel count ``max(1, round(c * w))``)::

    stem, by image size (below)
    layer1..layer4: widths 64w, 128w, 256w, 512w; [2, 2, 2, 2] (Bi-Real-18) or [3, 4, 6, 3]
        (Bi-Real-34) blocks of two units (conv1, conv2); the first block of layer2..layer4 has
        stride 2 on conv1
    global average pool - fc

That is ResNet-18/34's layout, block for block: the reference writes one unit per block
(``[4, 4, 4, 4]`` and ``[6, 8, 12, 6]``); here two units make a block, named as in
``benchmark.models.resnet20`` (``conv1``/``bn1``/``shortcut``, ``conv2``/``bn2``).

Decisions, and where they differ from the reference:

* Downsampling shortcut (first unit of layer2..layer4) = 2x2 average pool (stride 2) + 1x1
  conv + BN, the reference's; its conv (``layerK.0.shortcut.1``) is full precision, as there
  (a plain ``nn.Conv2d``). The pool uses ``ceil_mode=True`` so that odd maps (28 -> 14 -> 7)
  match the strided convolution's ``ceil(H / 2)``; on even sizes it is the reference's pool.
* Stems. ``image_size >= 64`` (ImageNet; Tiny-ImageNet's 64x64 still reaches layer4 at 2x2):
  the reference's 7x7 stride-2 conv, BN, 3x3 stride-2 max-pool. Smaller images (CIFAR,
  MNIST): a 3x3 stride-1 conv and BN, no pool, as the CIFAR ResNets (``benchmark.models.resnet``);
  the ImageNet stem would leave a 32x32 image at 1x1 in layer4. The stem conv is ``conv1`` in
  both and stays full precision, as does the classifier ``fc`` (reference: plain layers).
* Nonlinearity: the reference network has none but the signs (no ReLU in the stem or the
  blocks). Its real-valued counterpart, from which Bi-Real is initialized, uses
  clip(-1, x, 1) where the sign will be (Sec. 3.3, "Initialization"), so each unit here has
  an ``nn.Hardtanh`` in front of its convolution: the ``fp`` and ``bwn`` regimes train that
  network (without it they would be linear). In ``bnn`` it becomes an identity
  (``activations=(nn.Hardtanh,)``): the binary convolution then sees sign(x) exactly as in
  the reference, and the shortcut carries the unclipped x either way. (Keeping it would
  not change the sign either; removing it keeps the BNN the reference's.)
* Initialization: Kaiming normal (fan out) for convolutions as the ResNets here. The
  reference's binary convolutions start from U(0, 0.001), a choice of its own training
  recipe, which belongs to the methods.
"""

from __future__ import annotations

from torch import Tensor, nn

from benchmark.data.inputs import Inputs
from benchmark.models.registry import register_arch

WIDTHS = (64, 128, 256, 512)  # reference BiRealNet: ResNet's stage widths
IMAGENET_STEM_MIN_SIZE = 64  # images at least this wide get the 7x7 stride-2 stem + max-pool


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


def _shortcut(cin: int, cout: int, stride: int) -> nn.Module:
    """Identity, or the reference's downsample: avg-pool by ``stride``, 1x1 conv, BN."""
    if stride == 1 and cin == cout:
        return nn.Identity()
    pool = nn.AvgPool2d(stride, ceil_mode=True) if stride > 1 else nn.Identity()
    return nn.Sequential(pool, nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))


class BiRealBlock(nn.Module):
    """Two Bi-Real units, each a clip - 3x3 conv - BN with its own shortcut.

    (N, cin, H, W) -> (N, planes, ceil(H / stride), ceil(W / stride)).
    """

    def __init__(self, cin: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.clip1 = nn.Hardtanh()
        self.conv1 = _conv3x3(cin, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.shortcut = _shortcut(cin, planes, stride)
        self.clip2 = nn.Hardtanh()
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.bn1(self.conv1(self.clip1(x))) + self.shortcut(x)
        return self.bn2(self.conv2(self.clip2(x))) + x


def _stem(in_channels: int, channels: int, image_size: int) -> tuple[nn.Conv2d, nn.Module]:
    """The stem convolution and the pool after its BN, chosen by image size (module docstring)."""
    if image_size >= IMAGENET_STEM_MIN_SIZE:
        conv = nn.Conv2d(in_channels, channels, 7, stride=2, padding=3, bias=False)
        return conv, nn.MaxPool2d(3, stride=2, padding=1)
    return _conv3x3(in_channels, channels), nn.Identity()


def _stage(cin: int, planes: int, blocks: int, stride: int) -> nn.Sequential:
    rest = [BiRealBlock(planes, planes) for _ in range(blocks - 1)]
    return nn.Sequential(BiRealBlock(cin, planes, stride), *rest)


class BiRealNet(nn.Module):
    """Stem (ImageNet or CIFAR), four stages of Bi-Real blocks, average pool, linear classifier."""

    def __init__(
        self,
        blocks: tuple[int, int, int, int],
        in_channels: int = 3,
        num_classes: int = 1000,
        width: float = 1.0,
        image_size: int = 224,
    ) -> None:
        super().__init__()
        widths = [max(1, round(c * width)) for c in WIDTHS]
        self.conv1, self.maxpool = _stem(in_channels, widths[0], image_size)
        self.bn1 = nn.BatchNorm2d(widths[0])
        cin, stages = widths[0], []
        for i, (planes, n) in enumerate(zip(widths, blocks, strict=True)):
            stages.append(_stage(cin, planes, n, stride=1 if i == 0 else 2))
            cin = planes
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


# Stem, classifier and the three downsampling 1x1 convolutions stay float (the reference's plain
# layers); the Hardtanh before each binary convolution becomes an identity in a BNN.
FULL_PRECISION = ("conv1", "fc", "layer2.0.shortcut.1", "layer3.0.shortcut.1", "layer4.0.shortcut.1")


@register_arch("bireal18", full_precision=FULL_PRECISION, activations=(nn.Hardtanh,))
def bireal18(inputs: Inputs, num_classes: int, width: float = 1.0) -> BiRealNet:
    return BiRealNet((2, 2, 2, 2), inputs.in_channels, num_classes, width, inputs.image_size)


@register_arch("bireal34", full_precision=FULL_PRECISION, activations=(nn.Hardtanh,))
def bireal34(inputs: Inputs, num_classes: int, width: float = 1.0) -> BiRealNet:
    return BiRealNet((3, 4, 6, 3), inputs.in_channels, num_classes, width, inputs.image_size)
