"""Residual branches that start at zero (benchmark/models/zero_init.py): gamma = 0 in the last
BatchNorm of every residual branch and nothing else changed; a block then starts as its shortcut;
the choice enters a run's config (and hash) only when set, and the config refuses an architecture
without residual branches."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from benchmark import config_checks, configs
from benchmark.data.inputs import Inputs
from benchmark.errors import UserError
from benchmark.grid import ConfigError
from benchmark.models import build_model
from benchmark.models.resnet import BasicBlock, Bottleneck
from benchmark.models.zero_init import residual_norms
from benchmark.records import config_hash
from tests.test_spec import spec

BLOCKS = {"resnet18": 8, "resnet34": 16, "resnet50": 16, "resnet18_clip": 8}


def built(arch: str, zero: bool) -> nn.Module:
    torch.manual_seed(0)
    return build_model(arch, Inputs.image(3, 16), 10, 0.0625, zero_init_residual=zero)


@pytest.mark.parametrize("arch", sorted(BLOCKS))
def test_only_the_branch_ending_gammas_are_zero_and_the_rest_is_the_own_init(arch):
    plain, zero = built(arch, False), built(arch, True)
    norms = residual_norms(zero)
    assert len(norms) == BLOCKS[arch]
    ends = {id(n.weight) for n in norms}
    for (name, a), b in zip(plain.named_parameters(), zero.parameters(), strict=True):
        if id(b) in ends:
            assert torch.all(a == 1) and torch.all(b == 0), name
        else:
            assert torch.equal(a, b), name  # no random number drawn: every other weight is the same


@pytest.mark.parametrize("block", [BasicBlock(8, 8), Bottleneck(32, 8)], ids=["basic", "bottleneck"])
def test_a_zero_started_block_is_its_shortcut(block):
    """With the identity shortcut, act(x + F(x)) = act(x) when F ends in a BatchNorm with gamma 0
    (beta 0), in training mode as in evaluation."""
    nn.init.zeros_(getattr(block, block.residual_norm).weight)
    x = torch.randn(4, block.conv1.in_channels, 6, 6)
    for mode in (True, False):
        block.train(mode)
        assert torch.equal(block(x), torch.relu(x))


def test_an_architecture_without_residual_branches_is_refused():
    with pytest.raises(UserError, match="no residual branch"):
        built("vgg_small", True)


def test_the_choice_enters_the_config_only_when_set():
    plain, zero = spec("--method", "ste"), spec("--method", "ste", "--zero-init-residual")
    assert "zero_init_residual" not in plain.to_dict()  # runs from before keep their hashes
    assert zero.to_dict() == {**plain.to_dict(), "zero_init_residual": True}
    assert config_hash(zero.to_dict()) != config_hash(plain.to_dict())


@pytest.mark.parametrize(("arch", "message"), [("vgg_small", "no residual branch"), ("resnet99", "resnet99")])
def test_the_config_refuses_an_arch_it_cannot_start_at_zero(arch, message):
    config = copy.deepcopy(configs.shipped("default"))
    config["zero_init_residual"] = ["resnet18", arch]
    with pytest.raises(ConfigError, match=f"zero_init_residual: .*{message}"):
        config_checks.check_registries(config)


def test_the_default_starts_the_cifar_resnets_at_zero_and_the_papers_do_not():
    """The laptop designs D11 and D12 (docs/LAPTOP_STUDY.md): the CIFAR ResNets and OvSW's
    ResNet-18; the paper config and the wide overlay (D10) keep the architectures' own
    initialisation."""
    zero = ["resnet18", "resnet34", "resnet50", "resnet18_clip"]
    assert configs.shipped("default")["zero_init_residual"] == zero
    assert configs.shipped("paper")["zero_init_residual"] == []
    assert configs.shipped("wide")["zero_init_residual"] == []
