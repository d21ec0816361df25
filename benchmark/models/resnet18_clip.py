"""CIFAR ResNet-18 with a Hardtanh-clipped residual stream: ReCU's and OvSW's 1w1a ResNet-18.

Source: OvSW's reference code (JingyangXiang/OvSW, ``model/models/resnet_cifar.py``,
``cResNet18_1w1a``, built with ``nonlinearity: hardtanh`` by
``configs/smallscale/w1a1-ovsw-resnet18-cifar{10,100}.yaml``, the networks of
``resnet18_resnet20_vggsmall.py``), which has the structure of ReCU's CIFAR ``resnet18_1w1a``
(z-hXu/ReCU, ``cifar/models_cifar/resnet2.py``; Xu et al., ICCV 2021). OvSW, Table 1
(CIFAR-10), Table 3 and Sec. 5.3 (CIFAR-100 ablation and convergence), Fig. 1.

Structure: our ``resnet18`` (:mod:`benchmark.models.resnet`: 3x3 stem, no max-pool, stages of
64-128-256-512 ``x width``, two basic blocks each, 1x1 conv + BN shortcuts where the shape
changes), with the reference's activations and head::

    conv1 3x3 (in -> 64w) - bn1 - relu                      # no clip: see below
    layer1..layer4: 2 BasicBlocks each; the first of layer2..4 has stride 2:
        h = clip1(relu1(bn1(conv1(x))))
        x = clip2(relu2(bn2(conv2(h)) + shortcut(x)))       # the residual stream is clipped
    global average pool - bn2 (BatchNorm1d) - fc

``relu*`` are ``nn.ReLU`` (declared in ``activations``), ``clip*`` ``nn.Hardtanh`` (clip to
[-1, 1], *not* declared, so it survives the conversion for every method).

Facts read in the reference code:

* ``BasicBlock.forward`` applies the activation (``nn.Hardtanh`` under ``nonlinearity:
  hardtanh``) twice: after ``bn1`` (the input of ``conv2``) and after the residual addition
  ``bn2(conv2(.)) + shortcut(x)``. So every block's output, the residual stream, lies in
  [-1, 1]. ReCU's block has ``F.hardtanh`` at the same two places.
* The stem has *no* activation: ``ResNet.forward`` feeds ``bn1(conv1(x))`` straight into
  ``layer1`` (ReCU's too). Unlike the reference ResNet-20 (:mod:`benchmark.models.resnet20`),
  the stream is therefore not clipped before the first addition.
* Shortcut: identity, or ``conv1x1`` (the builder's binary ``OvSWConv2d``, stride 2) + BN
  where the shape changes, He et al.'s option B, as in our ``resnet18``; the 1x1 convolutions
  are binarized, as here (only ``conv1`` and ``fc`` are declared full precision).
* Head: global average pool, then a BatchNorm over the 512 channels (``bn2``;
  ``BatchNorm2d`` on the pooled 1x1 map, the same as ``BatchNorm1d`` on the flattened vector,
  ReCU's form), then a float classifier with bias (a 1x1 ``nn.Conv2d``, the same map as
  ``nn.Linear``; ReCU's ``nn.Linear``). The stem ``conv1`` is a float ``nn.Conv2d``.
* Initialisation: every builder convolution (all but the stem) is
  ``kaiming_normal_(mode="fan_in", nonlinearity="leaky_relu")`` (``init: kaiming_normal``,
  ``mode: fan_in``); the stem and the classifier keep PyTorch's default initialisation.
  Reproduced here.

Decisions, and where they differ from the reference:

* As in ``resnet20``, each reference Hardtanh is an ``nn.ReLU`` followed by an
  ``nn.Hardtanh``, one network for every regime. In ``bnn`` the ReLU becomes an identity and
  the reference's Hardtanh remains: the same forward and backward (no gradient where
  |x| > 1). The stem's ReLU becomes an identity too, which is the reference's unclipped stem.
  In ``fp`` and ``bwn`` each pair is min(max(x, 0), 1), a ReLU capped at 1, and the stem a
  plain ReLU: not He et al.'s float ResNet-18 (that is ``resnet18``), the price of one
  network for all regimes.
* The classifier is an ``nn.Linear`` named ``fc`` (the reference's 1x1 convolution computes
  the same map), so that the architecture contract (``conv1`` first, ``fc`` last) holds.
* Global average pooling is adaptive, so any input size works (ReCU pools by a fixed 4).

Why an architecture of its own: ``resnet18`` is the StoMPP paper's network, whose BNN
residual stream is unclipped (its ReLUs become identities); OvSW's numbers are for this one.
At width 1 it has ``resnet18``'s parameters plus ``bn2``'s 2 x 512.

At mini scale the clip costs accuracy: ``ovsw`` on ``digits`` (width 0.125, recipe ``mini``,
one CPU thread) reached 87.2 / 80.3 / 85.0% (seeds 0-2) here against 96.1 / 96.4 / 96.4% on
``resnet18``, ``fp`` 83.9% against 97.5% (seed 0). Removing only ``clip2`` (the residual
stream's) brought ``ovsw`` back to 96.7 / 95.3% (seeds 0, 1): the clipped stream, not the
head or the initialisation, makes the difference.
"""

from __future__ import annotations

from torch import Tensor, nn

from benchmark.data.inputs import Inputs
from benchmark.models.registry import register_arch
from benchmark.models.resnet import STEM_AND_CLASSIFIER, BasicBlock, CifarResNet


class ClipBasicBlock(BasicBlock):
    """``resnet18``'s basic block with a Hardtanh after each of its two ReLUs: after ``bn1``
    and after the residual addition (the reference's two activations)."""

    def __init__(self, cin: int, planes: int, stride: int = 1) -> None:
        super().__init__(cin, planes, stride)
        self.clip1 = nn.Hardtanh()
        self.clip2 = nn.Hardtanh()

    def forward(self, x: Tensor) -> Tensor:
        out = self.clip1(self.relu1(self.bn1(self.conv1(x))))
        out = self.bn2(self.conv2(out))
        return self.clip2(self.relu2(out + self.shortcut(x)))


class ClipResNet18(CifarResNet):
    """ResNet-18 of :class:`ClipBasicBlock` s, an unclipped stem and a BatchNorm before ``fc``."""

    def __init__(self, in_channels: int = 3, num_classes: int = 10, width: float = 1.0) -> None:
        super().__init__(ClipBasicBlock, (2, 2, 2, 2), in_channels, num_classes, width)
        self.bn2 = nn.BatchNorm1d(self.fc.in_features)
        self._reference_init()

    def _reference_init(self) -> None:
        """The reference builder's initialisation of every convolution but the stem; the stem
        and ``fc`` get PyTorch's default (the reference's plain ``nn.Conv2d`` layers)."""
        self.conv1.reset_parameters()
        for stage in (self.layer1, self.layer2, self.layer3, self.layer4):
            for m in stage.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="leaky_relu")

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.bn2(self.pool(x).flatten(1)))


# Every ReLU becomes an identity in a BNN; the Hardtanhs after them stay (see above).
@register_arch("resnet18_clip", full_precision=STEM_AND_CLASSIFIER, activations=(nn.ReLU,))
def resnet18_clip(inputs: Inputs, num_classes: int, width: float = 1.0) -> ClipResNet18:
    return ClipResNet18(inputs.in_channels, num_classes, width)
