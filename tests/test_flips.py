"""Sign-flip statistics are kept by the trainer for every method (methods/flips.py), so a method's
hooks need not call ``super()`` for them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from benchmark.recipe import Recipe
from benchmark.spec import RunSpec
from benchmark.train import train
from methods.catalog import METHODS
from methods.flips import FlipTracker, attach
from methods.ste import Ste, clip_latent_


class NoSuper(Ste):
    """STE whose hooks all override the base class without calling ``super()``."""

    name = "ste_no_super"

    def setup(self, total_steps: int, device: torch.device) -> None:
        self.total = total_steps

    def start_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @torch.no_grad()
    def after_step(self, step: int) -> None:
        clip_latent_(self.binary_weights())

    def epoch_metrics(self) -> dict[str, float]:
        return {"epoch_seen": float(self.epoch)}


def run(tmp_path: Path, method: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    recipe = Recipe(name="tiny", epochs=2, batch_size=64, augment=False)
    spec = RunSpec("synthetic", "resnet18", method, "bnn", 3, recipe, variant="v", width=0.0625, threads=1)
    train(spec, tmp_path / method, show_progress=False)
    return pd.read_csv(tmp_path / method / "metrics.csv"), pd.read_csv(tmp_path / method / "layers.csv")


def test_a_method_whose_hooks_skip_super_gets_the_same_flip_statistics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(METHODS._items, NoSuper.name, NoSuper)
    metrics, layers = run(tmp_path, NoSuper.name)
    ste_metrics, ste_layers = run(tmp_path, "ste")
    flips = ["never_flipped", "flip_ratio"]
    pd.testing.assert_frame_equal(metrics[flips], ste_metrics[flips], check_exact=True)
    pd.testing.assert_frame_equal(layers, ste_layers, check_exact=True)
    assert metrics["epoch_seen"].tolist() == [1.0, 2.0]
    assert (metrics["never_flipped"] < 100).all() and (metrics["flip_ratio"] > 0).all()
    assert list(metrics.columns[-3:]) == ["never_flipped", "flip_ratio", "seconds"]  # after the method's own


def test_flip_rows_follow_the_method_rows_of_the_same_layer() -> None:
    tracker = FlipTracker([torch.tensor([1.0, -1.0]), torch.tensor([0.5])], [(0, "a"), (2, "c")])
    tracker.tensors[0].neg_()
    tracker.update()
    flips = tracker.layer_rows()
    assert flips == [
        {"order": 0, "name": "a", "never_flipped": 0.0, "flip_ratio": 100.0},
        {"order": 2, "name": "c", "never_flipped": 100.0, "flip_ratio": 0.0},
    ]
    own = [{"order": i, "name": n, "target": 0.5} for i, n in enumerate("abc")]
    merged = attach(own, flips)
    assert merged[0] == {"order": 0, "name": "a", "target": 0.5, "never_flipped": 0.0, "flip_ratio": 100.0}
    assert merged[1] == {"order": 1, "name": "b", "target": 0.5}  # a layer without a binary weight
    assert attach([], flips) == flips
    assert FlipTracker([torch.ones(2)], []).layer_rows() == []  # tensors without their layers
