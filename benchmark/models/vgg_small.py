"""VGG-small for CIFAR (Zhang et al., "LQ-Nets", ECCV 2018, Sec. 4.1), as binarized by
RBNN, ReCU and OvSW (OvSW, Table 1; reference code JingyangXiang/OvSW,
``model/models/vgg.py``, ``VGGSmall_1w1a``).

Structure (``w`` = ``width``, every channel count ``max(1, round(c * w))``)::

    conv1 3x3 (in -> 128w)  - bn1 - relu1
    conv2 3x3 (-> 128w) - maxpool 2 - bn2 - relu2
    conv3 3x3 (-> 256w)     - bn3 - relu3
    conv4 3x3 (-> 256w) - maxpool 2 - bn4 - relu4
    conv5 3x3 (-> 512w)     - bn5 - relu5
    conv6 3x3 (-> 512w) - maxpool 2 - bn6 - relu6
    adaptive average pool to 4x4 - flatten - fc (512w * 16 -> classes)

Six convolutions (no bias) and a single Linear classifier with bias. Where a layer pools,
the pool comes between the convolution and its BatchNorm, as in the reference code (the
XNOR-Net ordering, so that the BN normalises what the next layer's sign will see).

Where this differs from the reference:

* The reference flattens the 4x4x512 map of a 32x32 input; the adaptive pool to 4x4 is
  the identity there and makes other input sizes (8x8 and up) work with the same classifier.
* The reference's nonlinearities follow its ``nonlinearity`` option (``hardtanh`` in the
  OvSW configs) and the last one is a PReLU; here all are ``nn.ReLU`` modules, the float
  VGG's nonlinearity, which the method protocol replaces by identities in the ``bnn`` regime.
* Layers are named ``conv1``..``conv6`` (``conv0``..``conv5`` in the reference) so that the
  first layer is ``conv1`` across the registry.
"""

from __future__ import annotations

from torch import Tensor, nn

from benchmark.data.inputs import Inputs
from benchmark.models.registry import register_arch

# (output channels, max-pool after the convolution)
CONFIG = ((128, False), (128, True), (256, False), (256, True), (512, False), (512, True))
POOLED_SIZE = 4  # a 32x32 input after three 2x2 max-pools


class VGGSmall(nn.Module):
    """Six 3x3 conv-(pool)-BN-ReLU layers and one linear classifier."""

    def __init__(self, in_channels: int = 3, num_classes: int = 10, width: float = 1.0) -> None:
        super().__init__()
        cin = in_channels
        for i, (channels, pool) in enumerate(CONFIG, start=1):
            cout = max(1, round(channels * width))
            setattr(self, f"conv{i}", nn.Conv2d(cin, cout, 3, padding=1, bias=False))
            setattr(self, f"pool{i}", nn.MaxPool2d(2) if pool else nn.Identity())
            setattr(self, f"bn{i}", nn.BatchNorm2d(cout))
            setattr(self, f"relu{i}", nn.ReLU())
            cin = cout
        self.pool = nn.AdaptiveAvgPool2d(POOLED_SIZE)
        self.fc = nn.Linear(cin * POOLED_SIZE**2, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        """The reference's init: N(0, 2 / (k * k * cout)) for convolutions, N(0, 0.01) for fc."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        nn.init.normal_(self.fc.weight, 0.0, 0.01)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: Tensor) -> Tensor:
        for i in range(1, len(CONFIG) + 1):
            conv, pool = getattr(self, f"conv{i}"), getattr(self, f"pool{i}")
            x = getattr(self, f"relu{i}")(getattr(self, f"bn{i}")(pool(conv(x))))
        return self.fc(self.pool(x).flatten(1))


# The first convolution and the classifier stay in full precision (as in the reference's
# VGGSmall_1w1a); every ReLU becomes an identity in a BNN.
@register_arch("vgg_small", full_precision=("conv1", "fc"), activations=(nn.ReLU,))
def vgg_small(inputs: Inputs, num_classes: int, width: float = 1.0) -> VGGSmall:
    return VGGSmall(inputs.in_channels, num_classes, width)
