"""CIFAR-style ResNets (He et al., "Deep Residual Learning", CVPR 2016; the CIFAR variant with a
3x3 stem and no max-pool used by the StoMPP paper and most BNN work).

Stages of widths 64-128-256-512 times ``width``; ResNet-18/34 use basic blocks, ResNet-50
bottlenecks (expansion 4). Shortcuts are a 1x1 convolution + BatchNorm where the shape
changes. Every nonlinearity is its own ``nn.ReLU`` module so that a method can swap it.
Plain float modules: binarization is the method's business.
"""

from __future__ import annotations

from torch import Tensor, nn

from benchmark.data.inputs import Inputs
from benchmark.models.registry import register_arch

STEM_AND_CLASSIFIER = ("conv1", "fc")  # in full precision, as in every BNN here


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


def _shortcut(cin: int, cout: int, stride: int) -> nn.Module:
    if stride == 1 and cin == cout:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))


class BasicBlock(nn.Module):
    expansion = 1
    residual_norm = "bn2"  # the BatchNorm that ends the residual branch (benchmark.models.zero_init)

    def __init__(self, cin: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = _conv3x3(cin, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu1 = nn.ReLU()
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = _shortcut(cin, planes, stride)
        self.relu2 = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + self.shortcut(x))


class Bottleneck(nn.Module):
    expansion = 4
    residual_norm = "bn3"

    def __init__(self, cin: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        cout = planes * self.expansion
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu1 = nn.ReLU()
        self.conv2 = _conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu2 = nn.ReLU()
        self.conv3 = nn.Conv2d(planes, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.shortcut = _shortcut(cin, cout, stride)
        self.relu3 = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.relu2(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu3(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """3x3 stem, four stages (strides 1, 2, 2, 2), global average pool, linear classifier."""

    def __init__(
        self,
        block: type[BasicBlock | Bottleneck],
        blocks: tuple[int, int, int, int],
        in_channels: int = 3,
        num_classes: int = 10,
        width: float = 1.0,
    ) -> None:
        super().__init__()
        widths = [max(1, round(w * width)) for w in (64, 128, 256, 512)]
        self.conv1 = _conv3x3(in_channels, widths[0])
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU()
        cin = widths[0]
        stages = []
        for i, (planes, n) in enumerate(zip(widths, blocks, strict=True)):
            layers = []
            for j in range(n):
                layers.append(block(cin, planes, stride=2 if (i > 0 and j == 0) else 1))
                cin = planes * block.expansion
            stages.append(nn.Sequential(*layers))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.pool(x).flatten(1))


@register_arch("resnet18", full_precision=STEM_AND_CLASSIFIER, activations=(nn.ReLU,))
def resnet18(inputs: Inputs, num_classes: int, width: float = 1.0) -> CifarResNet:
    return CifarResNet(BasicBlock, (2, 2, 2, 2), inputs.in_channels, num_classes, width)


@register_arch("resnet34", full_precision=STEM_AND_CLASSIFIER, activations=(nn.ReLU,))
def resnet34(inputs: Inputs, num_classes: int, width: float = 1.0) -> CifarResNet:
    return CifarResNet(BasicBlock, (3, 4, 6, 3), inputs.in_channels, num_classes, width)


@register_arch("resnet50", full_precision=STEM_AND_CLASSIFIER, activations=(nn.ReLU,))
def resnet50(inputs: Inputs, num_classes: int, width: float = 1.0) -> CifarResNet:
    return CifarResNet(Bottleneck, (3, 4, 6, 3), inputs.in_channels, num_classes, width)
