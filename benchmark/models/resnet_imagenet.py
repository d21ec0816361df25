"""ImageNet ResNet-18/34/50 (He et al., "Deep Residual Learning", CVPR 2016, Table 1), with
torchvision's module names and layout (``torchvision.models.resnet``, "ResNet v1.5").

Written here rather than imported so that ``width`` can scale every stage; at width 1 the
model has exactly torchvision's ``state_dict`` keys and shapes (and so its parameter count:
11_689_512 / 21_797_672 / 25_557_032 for 1000 classes), which a test checks.

Structure (``w`` = ``width``, every channel count ``max(1, round(c * w))``)::

    conv1 7x7 stride 2 (in -> 64w) - bn1 - relu - maxpool 3x3 stride 2
    layer1..layer4: widths 64w, 128w, 256w, 512w; [2, 2, 2, 2] BasicBlocks (ResNet-18),
        [3, 4, 6, 3] BasicBlocks (ResNet-34) or [3, 4, 6, 3] Bottlenecks (ResNet-50, expansion 4);
        the first block of layer2..layer4 has stride 2
    avgpool (adaptive, 1x1) - fc

    BasicBlock: relu(bn2(conv2(relu(bn1(conv1(x))))) + identity)       conv1 3x3 carries the stride
    Bottleneck: 1x1 -> 3x3 -> 1x1 (x4), BN after each, ReLU after the first two and after the sum;
        the stride sits on the 3x3 conv2 (v1.5; the paper's v1 strides the first 1x1)
    identity = x, or downsample(x) = BN(1x1 conv, stride s)(x) where the shape changes

As in torchvision, one ``relu`` module per block is applied two (BasicBlock) or three
(Bottleneck) times; a method replaces activations by type, so a BNN loses all of them.
Unlike torchvision the ReLUs are not in place (a binary layer's quantizer may keep its input
for the backward pass).

Full precision: ``conv1`` and ``fc`` (the first and last layer, as in every method here) and
the 1x1 ``downsample`` convolutions (``layerK.0.downsample.0``: layer2..4, and layer1 in
ResNet-50 whose first block widens 64 -> 256). Why the shortcuts: the binarized ImageNet
ResNets of the peer work keep them float -- OvSW's reference code (JingyangXiang/OvSW, its
ImageNet ResNet-18/34), Bi-Real Net and ReActNet (the full-precision "CONV" of PaBT's Fig. 3)
and XNOR-Net++ -- because a binary 1x1 shortcut replaces the real-valued residual stream by
a binary one at every stage transition. They hold 1.1% / 0.5% / 8.8% of the multiply-accumulates
of ResNet-18 / 34 / 50 at 224x224.
The StoMPP seed states only "first and last layer" and is silent on shortcuts; the CIFAR
ResNets (``benchmark.models.resnet``) binarize theirs, following it.

Initialization as torchvision's: Kaiming normal (fan out, ReLU gain) for convolutions,
BatchNorm weight 1 and bias 0, PyTorch's default for the classifier.
"""

from __future__ import annotations

from torch import Tensor, nn

from benchmark.data.inputs import Inputs
from benchmark.models.registry import register_arch

WIDTHS = (64, 128, 256, 512)  # He et al. Table 1; the stem has WIDTHS[0] channels


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


def _conv1x1(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 1, stride=stride, bias=False)


def _downsample(cin: int, cout: int, stride: int) -> nn.Sequential | None:
    """torchvision's projection shortcut (1x1 conv + BN) where the shape changes, else None."""
    if stride == 1 and cin == cout:
        return None
    return nn.Sequential(_conv1x1(cin, cout, stride), nn.BatchNorm2d(cout))


def _identity(downsample: nn.Module | None, x: Tensor) -> Tensor:
    # Called after the main branch, as torchvision does, so that the shortcut convolution runs
    # (and is ordered, methods.convert.execution_order) after the block's convolutions.
    return x if downsample is None else downsample(x)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BN; ReLU after the first and after the residual sum."""

    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = _conv3x3(cin, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = _downsample(cin, planes, stride)

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + _identity(self.downsample, x))


class Bottleneck(nn.Module):
    """1x1 (reduce) - 3x3 (stride) - 1x1 (expand x4), BN after each, ReLU after all but the last."""

    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        cout = planes * self.expansion
        self.conv1 = _conv1x1(cin, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = _conv1x1(planes, cout)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.downsample = _downsample(cin, cout, stride)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn3(self.conv3(self.relu(self.bn2(self.conv2(out)))))
        return self.relu(out + _identity(self.downsample, x))


Block = type[BasicBlock] | type[Bottleneck]


def _stage(block: Block, cin: int, planes: int, blocks: int, stride: int) -> nn.Sequential:
    layers = [block(cin, planes, stride)]
    layers += [block(planes * block.expansion, planes) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class ImageNetResNet(nn.Module):
    """7x7 stride-2 stem + max-pool, four stages (strides 1, 2, 2, 2), average pool, linear classifier."""

    def __init__(
        self,
        block: Block,
        blocks: tuple[int, int, int, int],
        in_channels: int = 3,
        num_classes: int = 1000,
        width: float = 1.0,
    ) -> None:
        super().__init__()
        widths = [max(1, round(c * width)) for c in WIDTHS]
        self.conv1 = nn.Conv2d(in_channels, widths[0], 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        cin, stages = widths[0], []
        for i, (planes, n) in enumerate(zip(widths, blocks, strict=True)):
            stages.append(_stage(block, cin, planes, n, stride=1 if i == 0 else 2))
            cin = planes * block.expansion
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def _full_precision(first_downsampled_stage: int) -> tuple[str, ...]:
    """Stem, classifier and the stages' 1x1 downsample convolutions (see the module docstring)."""
    shortcuts = tuple(f"layer{k}.0.downsample.0" for k in range(first_downsampled_stage, 5))
    return ("conv1", "fc", *shortcuts)


@register_arch("resnet18_imagenet", full_precision=_full_precision(2), activations=(nn.ReLU,))
def resnet18_imagenet(inputs: Inputs, num_classes: int, width: float = 1.0) -> ImageNetResNet:
    return ImageNetResNet(BasicBlock, (2, 2, 2, 2), inputs.in_channels, num_classes, width)


@register_arch("resnet34_imagenet", full_precision=_full_precision(2), activations=(nn.ReLU,))
def resnet34_imagenet(inputs: Inputs, num_classes: int, width: float = 1.0) -> ImageNetResNet:
    return ImageNetResNet(BasicBlock, (3, 4, 6, 3), inputs.in_channels, num_classes, width)


# ResNet-50's layer1 widens 64w -> 256w, so its first block has a downsample too.
@register_arch("resnet50_imagenet", full_precision=_full_precision(1), activations=(nn.ReLU,))
def resnet50_imagenet(inputs: Inputs, num_classes: int, width: float = 1.0) -> ImageNetResNet:
    return ImageNetResNet(Bottleneck, (3, 4, 6, 3), inputs.in_channels, num_classes, width)
