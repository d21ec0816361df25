"""The CIFAR architectures of the peer papers: shapes, parameter counts, structure."""

import copy

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import methods
from benchmark.data import Inputs
from benchmark.models import ARCHS, binarizable, build_model
from methods.convert import Binarizable, execution_order

NEW_ARCHS = ["resnet20", "resnet18_clip", "vgg_small", "binarynet"]


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
# ResNet-18 with the clipped stream (ReCU's / OvSW's): the CIFAR ResNet-18's 11_173_962 (see
# LARGE_PARAMS below) plus bn2, a BatchNorm1d(512) before fc: 2 * 512 = 1_024 -> 11_174_986
PARAMS = {"resnet20": 269_850, "resnet18_clip": 11_174_986, "vgg_small": 4_660_106, "binarynet": 10_359_700}


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
    """Silencing a block's first conv-BN leaves x + bn2(conv2(x)) (then ReLU and the clip to
    [-1, 1]): a shortcut around each conv (a plain ResNet block would give relu(x + bn2(conv2(0))) = x)."""
    torch.manual_seed(0)
    block = build_model("resnet20", Inputs.image(3), 10, 0.25).layer1[0].eval()
    _zero_bn(block.bn1)
    x = torch.rand(2, 4, 8, 8)
    with torch.no_grad():
        assert torch.allclose(block(x), F.hardtanh(F.relu(block.bn2(block.conv2(x)) + x)))


def test_resnet20_bnn_keeps_the_reference_hardtanh_on_the_residual_stream() -> None:
    """OvSW's reference ResNet-20 (IR-Net's) clips the stream after the stem and every unit: in a
    BNN the ReLUs become identities and the 1 + 18 Hardtanhs stay, for every method."""
    torch.manual_seed(0)
    model = build_model("resnet20", Inputs.image(3), 10, 0.25)
    method = methods.build_method("ste", {}, "bnn", 0)
    method.convert(model, torch.zeros(2, 3, 8, 8), binarizable("resnet20"))
    assert not any(isinstance(m, nn.ReLU) for m in model.modules())
    assert sum(type(m) is nn.Hardtanh for m in model.modules()) == 1 + 18
    block = model.layer1[0].eval()
    x = 3 * torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        h = F.hardtanh(block.bn1(block.conv1(x)) + x)
        assert torch.allclose(block(x), F.hardtanh(block.bn2(block.conv2(h)) + h))
        assert block(x).abs().max() <= 1.0


def test_resnet18_clip_bnn_keeps_the_reference_hardtanh_after_bn1_and_every_addition() -> None:
    """OvSW's reference ResNet-18 (ReCU's): Hardtanh after bn1 and after the residual addition of
    each of the 8 blocks, none on the stem; in a BNN the ReLUs become identities, the 16 stay."""
    torch.manual_seed(0)
    model = build_model("resnet18_clip", Inputs.image(3), 10, 0.0625)
    method = methods.build_method("ste", {}, "bnn", 0)
    method.convert(model, torch.zeros(2, 3, 8, 8), binarizable("resnet18_clip"))
    assert not any(isinstance(m, nn.ReLU) for m in model.modules())
    assert sum(type(m) is nn.Hardtanh for m in model.modules()) == 2 * 8
    assert type(model.relu) is nn.Identity  # the stem is unclipped, as in the reference
    block = model.layer2[0].eval()  # 4 -> 8 channels, stride 2: a binary 1x1 conv + BN shortcut
    assert type(block.shortcut[0]).__name__ == "BinaryConv2d"
    x = 3 * torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        h = F.hardtanh(block.bn1(block.conv1(x)))
        assert torch.allclose(block(x), F.hardtanh(block.bn2(block.conv2(h)) + block.shortcut(x)))
        assert block(x).abs().max() <= 1.0


def test_resnet18_clip_caps_the_relu_at_1_in_fp_and_bwn_and_has_resnet18s_convolutions() -> None:
    """fp (the float network) and bwn keep the ReLUs: ReLU then Hardtanh = min(max(x, 0), 1)."""
    model = build_model("resnet18_clip", Inputs.image(3), 5, 0.0625)
    convs = {n: m.weight.shape for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    plain = build_model("resnet18", Inputs.image(3), 5, 0.0625)
    assert convs == {n: m.weight.shape for n, m in plain.named_modules() if isinstance(m, nn.Conv2d)}
    block = model.layer1[0].eval()
    with torch.no_grad():
        out = block(3 * torch.randn(2, 4, 8, 8))
        assert out.min() >= 0.0 and out.max() <= 1.0
    assert sum(type(m) is nn.ReLU for m in _converted("resnet18_clip", "bwn").modules()) == 1 + 2 * 8


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
@pytest.mark.parametrize("arch", [a for a in ARCHS.names() if ARCHS.get(a).takes == "image"])
def test_exactly_the_declared_layers_stay_full_precision(arch: str) -> None:
    """The declaration, not the position in execution order, decides what stays float (the
    text architectures: tests/test_text.py)."""
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


# -- MobileNetV2, the ImageNet ResNets and Bi-Real Net -----------------------------------------
IMAGENET_RESNETS = ["resnet18_imagenet", "resnet34_imagenet", "resnet50_imagenet"]
BIREAL = ["bireal18", "bireal34"]
LARGE_ARCHS = ["mobilenetv2", *IMAGENET_RESNETS, *BIREAL]


@pytest.mark.parametrize("in_channels", [1, 3])
@pytest.mark.parametrize("arch", LARGE_ARCHS)
def test_large_arch_output_shape(arch: str, in_channels: int) -> None:
    """16 and 32 (CIFAR stem for Bi-Real), 28 (odd maps after two poolings), 64 (ImageNet stem)."""
    for size in (16, 28, 32, 64):
        model = build_model(arch, Inputs.image(in_channels, size), 7, 0.0625).eval()
        with torch.no_grad():
            assert model(torch.randn(2, in_channels, size, size)).shape == (2, 7)


# Float parameter counts at width 1, 3 input channels. The ImageNet ResNets are torchvision's
# (its model cards: 11.7M, 21.8M, 25.6M at 1000 classes). Bi-Real Net has ResNet-18/34's
# convolutions and BatchNorms one for one (its downsample = parameter-free pool + the same 1x1
# conv + BN), so with the ImageNet stem it has torchvision's counts too; with the CIFAR stem
# (3x3 instead of 7x7: 3*64*(9 - 49) = -7_680) and 10 classes (512*990 + 990 = 507_870 fewer)
# it has the CIFAR ResNet-18/34's: 11_689_512 - 7_680 - 507_870 = 11_173_962, and
# 21_797_672 - 515_550 = 21_282_122. MobileNetV2: torchvision's mobilenet_v2 (3_504_872 at
# 1000 classes) less 1280*990 + 990 = 1_268_190 for 10 classes.
LARGE_PARAMS = {
    ("resnet18_imagenet", 224, 1000): 11_689_512,
    ("resnet34_imagenet", 224, 1000): 21_797_672,
    ("resnet50_imagenet", 224, 1000): 25_557_032,
    ("bireal18", 224, 1000): 11_689_512,
    ("bireal34", 224, 1000): 21_797_672,
    ("bireal18", 32, 10): 11_173_962,
    ("bireal34", 32, 10): 21_282_122,
    ("mobilenetv2", 32, 10): 2_236_682,
}


@pytest.mark.parametrize(("arch", "size", "classes"), list(LARGE_PARAMS))
def test_large_arch_parameter_count(arch: str, size: int, classes: int) -> None:
    model = build_model(arch, Inputs.image(3, size), classes, 1.0)
    assert n_params(model) == LARGE_PARAMS[arch, size, classes]


def test_bireal_with_cifar_stem_matches_the_cifar_resnet_count() -> None:
    for bireal, resnet in (("bireal18", "resnet18"), ("bireal34", "resnet34")):
        cifar = Inputs.image(3, 32)
        assert n_params(build_model(bireal, cifar, 10)) == n_params(build_model(resnet, cifar, 10))


@pytest.mark.parametrize("arch", IMAGENET_RESNETS)
def test_imagenet_resnet_is_torchvisions_at_width_1(arch: str) -> None:
    """Same state_dict keys and shapes in the same order, and the same layer execution order."""
    torchvision = pytest.importorskip("torchvision")
    ours = build_model(arch, Inputs.image(3, 224), 10, 1.0)
    theirs = getattr(torchvision.models, arch.removesuffix("_imagenet"))(weights=None, num_classes=10)
    shapes = [(k, tuple(v.shape)) for k, v in ours.state_dict().items()]
    assert shapes == [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    x = torch.zeros(1, 3, 32, 32)
    assert execution_order(ours, x) == execution_order(theirs, x)


def test_imagenet_resnet_takes_other_input_channels_in_conv1() -> None:
    model = build_model("resnet18_imagenet", Inputs.image(1, 224), 10, 1.0)
    assert model.conv1.weight.shape == (64, 1, 7, 7)


def test_mobilenetv2_matches_torchvision_at_other_widths() -> None:
    """The paper's width multiplier (multiples of 8, 1280 kept below 1) at any width."""
    torchvision = pytest.importorskip("torchvision")
    for width in (0.5, 0.0625):
        ours = build_model("mobilenetv2", Inputs.image(3), 10, width)
        assert n_params(ours) == n_params(torchvision.models.mobilenet_v2(num_classes=10, width_mult=width))


def test_mobilenetv2_is_the_cifar_variant() -> None:
    """Stride-1 stem and 24-channel stage: a 32x32 image reaches conv2 at 4x4 (8x down)."""
    model = build_model("mobilenetv2", Inputs.image(3), 10, 0.0625).eval()
    seen = {}
    model.conv2.register_forward_hook(lambda _m, i, _o: seen.update(shape=i[0].shape[-2:]))
    with torch.no_grad():
        model(torch.zeros(1, 3, 32, 32))
    assert model.conv1.stride == (1, 1) and seen["shape"] == (4, 4)
    assert len(model.layers) == 17


def _converted(arch: str, regime: str, width: float = 0.0625) -> nn.Module:
    model = build_model(arch, Inputs.image(3), 5, width)
    methods.build_method("ste", {}, regime, 0).convert(model, torch.zeros(2, 3, 16, 16), binarizable(arch))
    return model


def test_mobilenetv2_relu6_are_gone_in_bnn_and_kept_in_bwn() -> None:
    # stem 1 + first block (t = 1, no expansion) 1 + 16 blocks x 2 + head 1
    assert sum(isinstance(m, nn.ReLU6) for m in _converted("mobilenetv2", "bwn").modules()) == 35
    assert not any(isinstance(m, nn.ReLU6) for m in _converted("mobilenetv2", "bnn").modules())


def test_mobilenetv2_depthwise_convolutions_binarize_as_grouped() -> None:
    """The binary depthwise conv is sign(x) * sign(W) per channel, with the float conv's groups;
    the final 1x1 conv is binary, only conv1 and fc stay float."""
    from methods.layers import BinaryConv2d

    model = _converted("mobilenetv2", "bnn")
    conv = model.layers[1].depthwise.conv
    assert isinstance(conv, BinaryConv2d) and conv.groups == conv.in_channels == conv.out_channels > 1
    assert isinstance(model.conv2, BinaryConv2d)
    x = torch.randn(2, conv.in_channels, 6, 6)
    signs = [torch.where(t >= 0, 1.0, -1.0) for t in (x, conv.weight)]  # sign(0) = +1
    expected = F.conv2d(*signs, padding=1, groups=conv.groups)
    with torch.no_grad():
        assert torch.allclose(conv(x), expected)


@pytest.mark.parametrize("arch", [*IMAGENET_RESNETS, *BIREAL])
def test_every_shortcut_conv_is_declared_full_precision(arch: str) -> None:
    """The 1x1 downsample convolutions stay float; every 3x3 conv but none other is binarized."""
    model = build_model(arch, Inputs.image(3), 5, 0.0625)
    shortcuts = {n for n, m in model.named_modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)}
    shortcuts = {n for n in shortcuts if "downsample" in n or "shortcut" in n}
    assert len(shortcuts) == (4 if arch == "resnet50_imagenet" else 3)
    assert set(binarizable(arch).full_precision) == {"conv1", "fc", *shortcuts}


@pytest.mark.parametrize("arch", BIREAL)
def test_bireal_hardtanh_is_gone_in_bnn_and_kept_in_bwn(arch: str) -> None:
    blocks = 8 if arch == "bireal18" else 16
    assert sum(isinstance(m, nn.Hardtanh) for m in _converted(arch, "bwn").modules()) == 2 * blocks
    assert not any(isinstance(m, nn.Hardtanh) for m in _converted(arch, "bnn").modules())


# image size -> stem kernel, stride and pool (ImageNet stem from 64 pixels up)
STEMS = [(32, 3, 1, nn.Identity), (63, 3, 1, nn.Identity), (64, 7, 2, nn.MaxPool2d)]


@pytest.mark.parametrize(("size", "kernel", "stride", "pool"), STEMS)
def test_bireal_stem_follows_the_image_size(size: int, kernel: int, stride: int, pool: type) -> None:
    model = build_model("bireal18", Inputs.image(3, size), 10, 0.0625)
    assert model.conv1.kernel_size == (kernel, kernel) and model.conv1.stride == (stride, stride)
    assert type(model.maxpool) is pool


@pytest.mark.parametrize("arch", BIREAL)
def test_bireal_shortcut_around_every_binary_conv(arch: str) -> None:
    """In every block, silencing one unit's BN leaves the other unit plus its own shortcut:
    bn1 = 0 gives y = s(x) + bn2(conv2(clip(s(x)))) and bn2 = 0 gives y = bn1(conv1(clip(x))) + s(x)
    (a plain ResNet block, one shortcut per two convs, would give neither)."""
    torch.manual_seed(0)
    model = build_model(arch, Inputs.image(3), 10, 0.0625)
    blocks = [m for m in model.modules() if type(m).__name__ == "BiRealBlock"]
    assert len(blocks) == (8 if arch == "bireal18" else 16)
    for block in blocks:
        x = torch.randn(2, block.conv1.in_channels, 8, 8)
        no_bn1, no_bn2 = copy.deepcopy(block).eval(), copy.deepcopy(block).eval()
        _zero_bn(no_bn1.bn1)
        _zero_bn(no_bn2.bn2)
        with torch.no_grad():
            s = no_bn1.shortcut(x)
            assert torch.allclose(no_bn1(x), s + no_bn1.bn2(no_bn1.conv2(F.hardtanh(s))), atol=1e-6)
            assert torch.allclose(no_bn2(x), no_bn2.bn1(no_bn2.conv1(F.hardtanh(x))) + s, atol=1e-6)
