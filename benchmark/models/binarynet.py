"""BinaryNet for CIFAR-10 (Courbariaux, Hubara et al., "Binarized Neural Networks", NeurIPS
2016, Sec. 2.6), in the form Bop trained it (Helwegen et al., "Latent Weights Do Not Exist",
NeurIPS 2019, Sec. 5; reference code plumerai/rethinking-bnn-optimization,
``bnn_optimization/models/binarynet.py``, hparams ``bop``: filters 128, dense units 1024),
which is larq's "BinaryNet on CIFAR10" tutorial model.

Structure (``w`` = ``width``, every channel/unit count ``max(1, round(c * w))``)::

    conv1 3x3 (in -> 128w, no padding)   - bn1 - relu1
    conv2 3x3 (-> 128w) - maxpool 2      - bn2 - relu2
    conv3 3x3 (-> 256w)                  - bn3 - relu3
    conv4 3x3 (-> 256w) - maxpool 2      - bn4 - relu4
    conv5 3x3 (-> 512w)                  - bn5 - relu5
    conv6 3x3 (-> 512w) - maxpool 2      - bn6 - relu6
    adaptive average pool to 3x3 - flatten
    dense1 (512w * 9 -> 1024w) - bn7 - relu7
    dense2 (1024w -> 1024w)    - bn8 - relu8
    fc (1024w -> classes)      - bn_fc

Every layer is bias-free and followed by BatchNorm, the classifier included (larq's
version; Courbariaux et al. end in an L2-SVM instead). A 32x32 input gives 30 -> 15 -> 7
-> 3, so the flattened features are 512 * 3 * 3 = 4608 and the float network has
10.35M weights, not the ~14M of Courbariaux et al., whose first convolution is padded
(4 * 4 * 512 = 8192 features). We follow the reference code, since Bop's numbers come from it.

Where this differs from the reference:

* Bop binarizes the weights of the first layer (not its input) and both weights and
  inputs of the last one; this benchmark keeps the first and the last layer (``conv1``,
  ``fc``) in full precision, like every other architecture here.
* The binary network has no activation function: the next layer's sign is the
  nonlinearity. The float model needs one, so each BN is followed by an ``nn.ReLU``
  module, which the method protocol replaces by an identity in the ``bnn`` regime; the
  binarized network then is exactly the reference's BN -> sign -> layer chain.
* larq's ``BatchNormalization(scale=False)`` has no scale (gamma); PyTorch's BatchNorm has
  one, which adds 3850 parameters at width 1. Keras' BN defaults (momentum 0.99, i.e.
  PyTorch's 0.01, and eps 1e-3) are not copied: PyTorch's defaults, as in every other
  architecture here. Weights use larq's (Keras') default Glorot-uniform initialisation.
* The adaptive pool to 3x3 is the identity for 32x32 inputs and lets smaller inputs (the
  16x16 ones of the small datasets, down to 14x14) reuse the same classifier.
"""

from __future__ import annotations

from torch import Tensor, nn

from benchmark.data.inputs import Inputs
from benchmark.models.registry import register_arch

# (output channels, padding, max-pool after the convolution)
CONV_CONFIG = (
    (128, 0, False),
    (128, 1, True),
    (256, 1, False),
    (256, 1, True),
    (512, 1, False),
    (512, 1, True),
)
DENSE_UNITS = 1024
POOLED_SIZE = 3  # a 32x32 input after the unpadded conv1 and three 2x2 max-pools


def _scaled(count: int, width: float) -> int:
    return max(1, round(count * width))


class BinaryNet(nn.Module):
    """Six conv-(pool)-BN layers, two dense-BN layers and a dense-BN classifier."""

    def __init__(self, in_channels: int = 3, num_classes: int = 10, width: float = 1.0) -> None:
        super().__init__()
        cin = in_channels
        for i, (channels, padding, pool) in enumerate(CONV_CONFIG, start=1):
            cout = _scaled(channels, width)
            setattr(self, f"conv{i}", nn.Conv2d(cin, cout, 3, padding=padding, bias=False))
            setattr(self, f"pool{i}", nn.MaxPool2d(2) if pool else nn.Identity())
            setattr(self, f"bn{i}", nn.BatchNorm2d(cout))
            setattr(self, f"relu{i}", nn.ReLU())
            cin = cout
        self.pool = nn.AdaptiveAvgPool2d(POOLED_SIZE)
        units = _scaled(DENSE_UNITS, width)
        self.dense1 = nn.Linear(cin * POOLED_SIZE**2, units, bias=False)
        self.bn7 = nn.BatchNorm1d(units)
        self.relu7 = nn.ReLU()
        self.dense2 = nn.Linear(units, units, bias=False)
        self.bn8 = nn.BatchNorm1d(units)
        self.relu8 = nn.ReLU()
        self.fc = nn.Linear(units, num_classes, bias=False)
        self.bn_fc = nn.BatchNorm1d(num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.xavier_uniform_(m.weight)

    def forward(self, x: Tensor) -> Tensor:
        for i in range(1, len(CONV_CONFIG) + 1):
            conv, pool = getattr(self, f"conv{i}"), getattr(self, f"pool{i}")
            x = getattr(self, f"relu{i}")(getattr(self, f"bn{i}")(pool(conv(x))))
        x = self.pool(x).flatten(1)
        x = self.relu7(self.bn7(self.dense1(x)))
        x = self.relu8(self.bn8(self.dense2(x)))
        return self.bn_fc(self.fc(x))


# conv1 and fc stay in full precision (see "Where this differs from the reference" above); every
# ReLU becomes an identity in a BNN, giving the reference's BN -> sign -> layer chain.
@register_arch("binarynet", full_precision=("conv1", "fc"), activations=(nn.ReLU,))
def binarynet(inputs: Inputs, num_classes: int, width: float = 1.0) -> BinaryNet:
    return BinaryNet(inputs.in_channels, num_classes, width)
