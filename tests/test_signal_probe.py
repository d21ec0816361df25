"""tools/signal_probe.py: a linear probe per block of an untrained network."""

from __future__ import annotations

import pytest

from benchmark.data.inputs import Inputs
from benchmark.models import build_model
from tools import signal_probe


def test_the_blocks_are_the_stage_containers_children():
    resnet = build_model("resnet18", Inputs.image(1, 16), 10, 0.0625)
    assert signal_probe.default_blocks(resnet) == ["layer1", "layer2", "layer3", "layer4"]
    mobilenet = build_model("mobilenetv2", Inputs.image(1, 16), 10, 0.25)
    assert signal_probe.default_blocks(mobilenet) == [f"layers.{i}" for i in range(17)]


def test_an_untrained_float_resnet_keeps_the_digits_apart():
    """Random float features of digits are linearly separable well above chance (10%)."""
    rows = signal_probe.probe("resnet18", 0.0625, "fp", "fp")
    assert [(r.module, r.dim) for r in rows] == [("layer1", 4), ("layer2", 8), ("layer3", 16), ("layer4", 32)]
    assert all(0.0 <= r.accuracy <= 100.0 for r in rows)
    assert rows[0].accuracy > 30.0


def test_an_unknown_module_is_named():
    with pytest.raises(SystemExit, match="no module"):
        signal_probe.probe("resnet18", 0.0625, "fp", "fp", blocks=["layer9"])
