"""weight_histogram.csv: the histogram of each binary layer's initial latent weights and of those
whose sign never flipped (OvSW Fig. 1a-b; methods/weight_histogram.py, methods/flips.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from benchmark import aggregate, checkpoint
from benchmark import train as train_module
from benchmark.recipe import Recipe
from benchmark.spec import RunSpec
from benchmark.train import train
from methods import weight_histogram
from methods.flips import HISTOGRAM_FILE, FlipTracker
from tests.test_resume import STEPS_PER_EPOCH, assert_same_records, spec_for, stop_at


def test_bins_split_plus_minus_max_abs_into_forty_and_count_like_a_hand_computation() -> None:
    w = torch.tensor([-1.0, -0.5, -0.49, 0.0, 0.24, 0.26, 0.999, 1.0, -0.3, 0.3])
    edges = weight_histogram.bin_edges(w)
    assert len(edges) == 41 and edges[0] == -1.0 and edges[20] == 0.0 and edges[40] == 1.0
    assert torch.equal(edges, -edges.flip(0))  # symmetric
    bins = weight_histogram.bin_indices(w, edges)
    assert bins.dtype == torch.uint8
    # by hand: bin k = floor((w + 1) / 0.05), the value 1.0 in the last, closed bin
    assert bins.tolist() == [0, 10, 10, 20, 24, 25, 39, 39, 14, 26]
    never = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0])
    initial, kept = weight_histogram.counts(bins, never, 40)
    expected_initial, _ = np.histogram(w.numpy(), bins=edges.numpy())
    assert initial.tolist() == expected_initial.tolist()
    hand = dict.fromkeys(range(40), 0) | {0: 1, 10: 1, 20: 1, 25: 1, 39: 1, 26: 1}
    assert kept.tolist() == [hand[k] for k in range(40)]
    assert (kept <= initial).all() and int(initial.sum()) == w.numel()


def test_the_range_is_the_layers_own_max_abs_and_an_all_zero_layer_gets_plus_minus_one() -> None:
    w = torch.tensor([[0.2, -0.05], [0.1, 0.0]])
    edges = weight_histogram.bin_edges(w)
    assert edges[0].item() == pytest.approx(-0.2) and edges[-1].item() == pytest.approx(0.2)
    assert weight_histogram.bin_indices(w, edges).tolist() == [[39, 15], [30, 20]]
    zero = weight_histogram.bin_edges(torch.zeros(3))
    assert zero[0] == -1.0 and zero[-1] == 1.0


def test_the_tracker_keeps_the_initial_bins_and_counts_what_never_flipped() -> None:
    a, b = torch.tensor([-0.8, 0.4, 0.8, -0.1]), torch.tensor([0.5, -0.25])
    tracker = FlipTracker([a, b], [(0, "first"), (3, "last")])
    a.copy_(torch.tensor([0.1, 0.4, -0.5, -0.2]))  # entries 0 and 2 flip; the histogram stays initial
    tracker.update()
    rows = pd.DataFrame(tracker.histogram_rows())
    assert list(rows.columns) == weight_histogram.COLUMNS
    assert len(rows) == 2 * 40 and rows.groupby("name")["order"].first().to_dict() == {"first": 0, "last": 3}
    first = rows[rows.name == "first"].set_index("bin")
    # range +-0.8, width 0.04: -0.8 -> bin 0, -0.1 -> floor(0.7 / 0.04) = 17, 0.4 -> 30, 0.8 -> 39
    assert first.initial_count[first.initial_count > 0].to_dict() == {0: 1, 17: 1, 30: 1, 39: 1}
    assert first.never_flipped_count[first.never_flipped_count > 0].to_dict() == {17: 1, 30: 1}
    assert first.bin_low.iloc[0] == pytest.approx(-0.8) and first.bin_high.iloc[-1] == pytest.approx(0.8)
    last = rows[rows.name == "last"]
    assert last.initial_count.tolist() == last.never_flipped_count.tolist()  # nothing flipped
    assert (rows.never_flipped_count <= rows.initial_count).all()


def test_the_histogram_state_travels_with_the_tracker_state() -> None:
    start = [torch.tensor([-0.8, 0.4, 0.8, -0.1])]
    tracker = FlipTracker(start, [(0, "w")])
    start[0].neg_()
    tracker.update()
    other = FlipTracker([torch.tensor([0.3, 0.3, -0.2, 0.9])], [(0, "w")])  # other initial values
    other.load_state_dict(tracker.state_dict())
    assert other.histogram_rows() == tracker.histogram_rows()
    # a checkpoint from before the histogram state existed keeps the bins of the built model
    older = {k: v for k, v in tracker.state_dict().items() if k not in ("edges", "bins")}
    fresh = FlipTracker([torch.tensor([0.3, 0.3, -0.2, 0.9])], [(0, "w")])
    expected = FlipTracker([torch.tensor([0.3, 0.3, -0.2, 0.9])], [(0, "w")]).histogram_rows()
    fresh.load_state_dict(older)
    assert [r["initial_count"] for r in fresh.histogram_rows()] == [r["initial_count"] for r in expected]


def test_a_training_run_writes_the_histogram_of_every_binary_layer(tmp_path: Path) -> None:
    recipe = Recipe(name="tiny", epochs=2, batch_size=64, augment=False)
    spec = RunSpec("synthetic", "resnet18", "ovsw", "bnn", 3, recipe, variant="v", width=0.0625, threads=1)
    train(spec, tmp_path / "ovsw", show_progress=False)
    hist = pd.read_csv(tmp_path / "ovsw" / HISTOGRAM_FILE)
    layers = pd.read_csv(tmp_path / "ovsw" / "layers.csv")
    assert list(hist.columns) == weight_histogram.COLUMNS and HISTOGRAM_FILE == aggregate.HISTOGRAM_FILE
    final = layers[layers.epoch == 2].set_index("name")
    assert hist.groupby("name", sort=False)["order"].first().to_dict() == final["order"].to_dict()
    assert (hist.groupby("name").size() == weight_histogram.BINS).all()
    assert (hist.never_flipped_count <= hist.initial_count).all()
    per_layer = hist.groupby("name")[["initial_count", "never_flipped_count"]].sum()
    share = 100.0 * per_layer.never_flipped_count / per_layer.initial_count
    assert share.to_dict() == pytest.approx(final["never_flipped"].to_dict(), abs=1e-3)  # layers.csv: %.6g
    assert per_layer.never_flipped_count.sum() < per_layer.initial_count.sum()  # some weights flipped
    # the range of each layer is its own initial max |w|: the outermost bins are occupied
    for _, layer in hist.groupby("name"):
        assert layer.bin_low.iloc[0] == pytest.approx(-layer.bin_high.iloc[-1])
        assert layer.initial_count.iloc[0] + layer.initial_count.iloc[-1] >= 1

    fp = RunSpec("synthetic", "resnet18", "fp", "fp", 3, recipe, variant="fp", width=0.0625, threads=1)
    train(fp, tmp_path / "fp", show_progress=False)
    assert not (tmp_path / "fp" / HISTOGRAM_FILE).exists()  # no binary weights, no histogram


def test_a_resumed_run_writes_the_histogram_of_the_uninterrupted_run_from_its_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = spec_for("ovsw")
    train_module.train(spec, tmp_path / "whole", show_progress=False)
    with monkeypatch.context() as patch:
        stop_at(patch, STEPS_PER_EPOCH + 1)
        with pytest.raises(checkpoint.Preempted):
            train_module.train(spec, tmp_path / "stopped", show_progress=False)
    saved = torch.load(tmp_path / "stopped" / checkpoint.CHECKPOINT_NAME, weights_only=True)["flips"]
    assert all(b.dtype == torch.uint8 for b in saved["bins"]) and len(saved["edges"]) == len(saved["bins"])
    with monkeypatch.context() as patch:  # the rebuilt model's bins are wrong: only the checkpoint's count
        patch.setattr(weight_histogram, "bin_edges", lambda w, bins=40: torch.linspace(-9.0, 9.0, bins + 1))
        train_module.train(spec, tmp_path / "stopped", show_progress=False)
    assert_same_records(tmp_path / "whole", tmp_path / "stopped")
    whole = (tmp_path / "whole" / HISTOGRAM_FILE).read_bytes()
    assert whole == (tmp_path / "stopped" / HISTOGRAM_FILE).read_bytes()
