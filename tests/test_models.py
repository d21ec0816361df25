"""The CIFAR architectures of the peer papers: shapes, parameter counts, structure."""

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import methods
from benchmark.data import Inputs
from benchmark.models import ARCHS, binarizable, build_model
from methods.convert import Binarizable, execution_order

NEW_ARCHS = ["resnet20", "vgg_small", "binarynet"]


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("width", [1.0, 0.0625])
@pytest.mark.parametrize("num_classes", [10, 100])
@pytest.mark.parametrize("in_channels", [1, 3])
@pytest.mark.parametrize("arch", NEW_ARCHS)
def test_output_shape(arch: str, in_channels: int, num_classes: int, width: float) -> None:
    model = build_model(arch, Inputs.image(in_channels), num_classes, width).eval()
    with torch.no_grad():
        for size in (16, 32):
            assert model(torch.randn(2, in_channels, size, size)).shape == (2, num_classes)


@pytest.mark.parametrize("arch", NEW_ARCHS)
def test_first_layer_is_conv1_and_last_is_fc(arch: str) -> None:
    model = build_model(arch, Inputs.image(3), 10, 0.0625)
    order = execution_order(model, torch.zeros(1, 3, 16, 16))
    assert (order[0], order[-1]) == ("conv1", "fc")
    assert isinstance(model.conv1, nn.Conv2d) and isinstance(model.fc, nn.Linear)


# Expected float parameter counts at width 1, 3 input channels, 10 classes. A 3x3 conv
# has 9 * cin * cout weights (no bias anywhere but VGG-small's fc); a BatchNorm 2 * c.
#
# ResNet-20 (He et al. 0.27M; option-A shortcuts hold no parameters):
#   convs  3*16*9 + 6*16*16*9 + (16*32 + 5*32*32)*9 + (32*64 + 5*64*64)*9
#        = 432 + 13_824 + 50_688 + 202_752                                  = 267_696
#   BN2d   2 * (16 + 6*16 + 6*32 + 6*64) = 2 * 688                          =   1_376
#   bn2    BatchNorm1d(64)                                                  =     128
#   fc     64*10 + 10                                                       =     650
#                                                                   total     269_850
# VGG-small (LQ-Nets 4.6M):
#   convs  (3*128 + 128*128 + 128*256 + 256*256 + 256*512 + 512*512) * 9   = 4_574_592
#   BN     2 * (128 + 128 + 256 + 256 + 512 + 512)                          =     3_584
#   fc     512*4*4*10 + 10                                                  =    81_930
#                                                                   total     4_660_106
# BinaryNet (Bop / larq: first conv unpadded, 3x3x512 = 4608 features; larq's summary
# reports 10_352_000 binary weights and 10_355_850 trainable parameters, BN without gamma.
# Courbariaux et al.'s padded version, 8192 features, would have ~14.0M):
#   convs  4_574_592 (as VGG-small)
#   dense  4608*1024 + 1024*1024 + 1024*10 = 4_718_592 + 1_048_576 + 10_240 = 5_777_408
#   BN     2 * (128 + 128 + 256 + 256 + 512 + 512 + 1024 + 1024 + 10) = 2 * 3850 = 7_700
#                                                                   total    10_359_700
PARAMS = {"resnet20": 269_850, "vgg_small": 4_660_106, "binarynet": 10_359_700}


@pytest.mark.parametrize("arch", NEW_ARCHS)
def test_parameter_count_matches_the_published_architecture(arch: str) -> None:
    assert n_params(build_model(arch, Inputs.image(3), 10, 1.0)) == PARAMS[arch]


def test_resnet20_has_19_convs_and_one_linear() -> None:
    model = build_model("resnet20", Inputs.image(3), 10, 1.0)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 19 and all(c.kernel_size == (3, 3) for c in convs)
    assert [type(m) for m in model.modules() if isinstance(m, nn.Linear)] == [nn.Linear]


def _zero_bn(bn: nn.BatchNorm2d) -> None:
    nn.init.zeros_(bn.weight)
    nn.init.zeros_(bn.bias)


def test_resnet20_shortcut_around_every_conv() -> None:
    """Silencing a block's first conv-BN leaves x + bn2(conv2(x)): a shortcut around each conv
    (a plain ResNet block would give relu(x + bn2(conv2(0))) = x)."""
    torch.manual_seed(0)
    block = build_model("resnet20", Inputs.image(3), 10, 0.25).layer1[0].eval()
    _zero_bn(block.bn1)
    x = torch.rand(2, 4, 8, 8)
    with torch.no_grad():
        assert torch.allclose(block(x), F.relu(block.bn2(block.conv2(x)) + x))


def test_resnet20_downsampling_shortcut_is_avgpool_and_zero_channels() -> None:
    torch.manual_seed(0)
    block = build_model("resnet20", Inputs.image(3), 10, 0.25).layer2[0].eval()  # 4 -> 8 channels, stride 2
    assert sum(p.numel() for p in block.shortcut.parameters()) == 0
    x = torch.rand(2, 4, 8, 8)
    expected = torch.zeros(2, 8, 4, 4)
    expected[:, 2:6] = F.avg_pool2d(x, 2)
    with torch.no_grad():
        assert torch.equal(block.shortcut(x), expected)


# -- what each architecture declares (benchmark/models/registry.py) --------------------------
@pytest.mark.parametrize("arch", ARCHS.names())
def test_exactly_the_declared_layers_stay_full_precision(arch: str) -> None:
    """The declaration, not the position in execution order, decides what stays float."""
    model = build_model(arch, Inputs.image(3), 5, 0.0625)
    declared = binarizable(arch)
    methods.build_method("ste", {}, "bnn", 0).convert(model, torch.zeros(2, 3, 16, 16), declared)
    float_layers = {n for n, m in model.named_modules() if type(m) in (nn.Conv2d, nn.Linear)}
    assert float_layers == set(declared.full_precision)
    assert not any(isinstance(m, declared.activations) for m in model.modules())  # bnn: identities


def test_declared_activations_are_neutralised_and_the_others_kept() -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.ReLU6(), nn.Conv2d(4, 4, 3), nn.Hardtanh(), nn.Conv2d(4, 4, 3), nn.GELU()
    )
    arch = Binarizable(full_precision=("0", "4"), activations=(nn.ReLU6, nn.GELU))
    method = methods.build_method("ste", {}, "bnn", 0)
    method.convert(model, torch.zeros(1, 3, 9, 9), arch)
    assert [type(m).__name__ for m in model] == [
        "Conv2d",
        "Identity",
        "BinaryConv2d",
        "Hardtanh",
        "Conv2d",
        "Identity",
    ]
    assert method.layer_names == ["2"]


def test_a_declared_layer_the_model_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match=r"declares \['stem'\] full precision"):
        methods.build_method("ste", {}, "bnn", 0).convert(
            build_model("resnet18", Inputs.image(3), 5, 0.0625),
            torch.zeros(2, 3, 16, 16),
            Binarizable(("stem", "fc")),
        )
