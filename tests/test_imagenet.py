"""ImageNet as an ImageFolder tree streamed through DataLoader workers (benchmark/data/imagenet.py,
folder.py, imagenet_transforms.py), on tiny trees of small JPEGs written here.

Order and augmentation are a pure function of the generator state: the same for any number of
workers, and a run stopped mid-epoch resumes bit for bit with workers. Each bad tree is one
case of docs/ERRORS.md (``ERROR_CASES``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms.v2 import functional as F

from benchmark import checkpoint
from benchmark.cli import main
from benchmark.data import imagenet_transforms as views
from benchmark.data import load_dataset
from benchmark.data.imagenet import ImageNet
from benchmark.data.inputs import Inputs
from benchmark.data.options import DataOptions
from benchmark.errors import UserError
from tests.test_resume import assert_same_records, stop_at

CLASSES = ("n03", "n01", "n02")  # written out of order: labels follow the sorted names
SIZES = [(30, 40), (40, 30), (48, 64), (50, 20), (36, 36)]  # (height, width)
TRAIN_FILES = ["a.JPEG", "b.jpeg", "c.jpg", "d.PNG", "e.JPEG"]  # every accepted suffix and case


def write_image(path: Path, height: int, width: int, seed: int) -> None:
    """Smooth random colours (a blurred grid), so that crops and flips change the pixels."""
    rng = np.random.default_rng(seed)
    small = Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8))
    small.resize((width, height), Image.Resampling.BILINEAR).save(path)


def write_tree(root: Path, classes: tuple[str, ...] = CLASSES, train: int = 5, val: int = 2) -> Path:
    """``root/imagenet/{train,val}/<class>/`` with ``train`` and ``val`` images per class of the
    SIZES, and files that are not images (ignored)."""
    for c, name in enumerate(classes):
        for split, files in (("train", TRAIN_FILES[:train]), ("val", [f"v{k}.JPEG" for k in range(val)])):
            folder = root / "imagenet" / split / name
            folder.mkdir(parents=True)
            for k, file in enumerate(files):
                write_image(folder / file, *SIZES[(c + k) % len(SIZES)], seed=100 * c + k)
            (folder / "notes.txt").write_text("not an image")
            (folder / ".hidden.JPEG").write_bytes(b"")
    return root


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tree(tmp_path_factory.mktemp("tree"))


def read_rgb(path: Path) -> torch.Tensor:
    """uint8 [3, H, W], read with Pillow directly."""
    with Image.open(path) as image:
        return F.pil_to_tensor(image.convert("RGB"))


def imagenet(root: Path, **options: int) -> ImageNet:
    data = load_dataset("imagenet", root, DataOptions(**options))
    assert isinstance(data, ImageNet)
    return data


def epoch(data: ImageNet, seed: int = 0, batch: int = 4, **kwargs: object) -> list[tuple[torch.Tensor, ...]]:
    g = torch.Generator().manual_seed(seed)
    return list(data.batches("train", batch, generator=g, augment=True, **kwargs))


def assert_same_batches(a: list, b: list) -> None:
    assert len(a) == len(b)
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


# -- layout, labels, views ----------------------------------------------------------------
def test_the_tree_reads_with_labels_by_sorted_class_name(tree: Path) -> None:
    data = imagenet(tree)
    assert data.class_names == ("n01", "n02", "n03") and data.num_classes == 3
    assert (data.train_size, data.test_size) == (15, 6)  # 5 suffixes x 3; notes and hidden skipped
    assert data.inputs == Inputs.image(3, 224)
    assert torch.equal(data.example_input(5), torch.zeros(5, 3, 224, 224))
    (x, y), (x2, y2) = data.batches("test", 4)
    assert y.tolist() + y2.tolist() == [0, 0, 1, 1, 2, 2]
    assert x.dtype == torch.float32 and x.shape == (4, 3, 224, 224) and x2.shape == (2, 3, 224, 224)
    # the eval view: shorter side to 256 (bilinear, antialiased), central 224 crop, normalised
    image = read_rgb(tree / "imagenet" / "val" / "n03" / "v0.JPEG")
    expected = F.center_crop(F.resize(image, [256], F.InterpolationMode.BILINEAR, antialias=True), [224, 224])
    pixels = (
        x2[0] * torch.tensor(views.STD).view(3, 1, 1) * 255 + torch.tensor(views.MEAN).view(3, 1, 1) * 255
    )
    assert torch.allclose(pixels, expected.float(), atol=1e-3)


def test_a_train_batch_holds_each_image_once_with_its_label(tree: Path) -> None:
    data = imagenet(tree)
    batches = epoch(data, batch=4)
    assert [len(y) for _, y in batches] == [4, 4, 4, 3]
    assert sorted(torch.cat([y for _, y in batches]).tolist()) == [0] * 5 + [1] * 5 + [2] * 5
    assert [len(y) for _, y in epoch(data, batch=4, drop_last=True)] == [4, 4, 4]
    assert data.num_batches("train", 4) == 4 and data.num_batches("train", 4, drop_last=True) == 3


def test_the_same_generator_state_gives_the_same_epoch_and_the_next_epoch_differs(tree: Path) -> None:
    data = imagenet(tree)
    g = torch.Generator().manual_seed(3)
    first = list(data.batches("train", 5, generator=g, augment=True))
    second = list(data.batches("train", 5, generator=g, augment=True))
    assert_same_batches(first, epoch(data, seed=3, batch=5))
    labels = [torch.cat([y for _, y in e]) for e in (first, second)]
    assert not torch.equal(labels[0], labels[1])  # another order
    # other crops too: the two epochs' views differ as sets, not only in order
    sums = [torch.cat([x for x, _ in e]).sum((1, 2, 3)).sort().values for e in (first, second)]
    assert not torch.equal(sums[0], sums[1])


def test_without_augmentation_the_train_split_gets_the_eval_view(tree: Path) -> None:
    data = imagenet(tree, per_class=2)  # a.JPEG and b.jpeg of each class
    g = torch.Generator().manual_seed(0)
    plain = torch.cat([x for x, _ in data.batches("train", 6, generator=g, augment=False)])
    image = read_rgb(tree / "imagenet" / "train" / "n01" / "a.JPEG")
    expected = views.normalise(views.eval_view(image)[None])[0]
    assert any(torch.equal(view, expected) for view in plain)


def test_the_batches_are_the_same_for_any_number_of_workers_and_the_global_rng_is_untouched(
    tree: Path,
) -> None:
    state = torch.get_rng_state()
    in_process = epoch(imagenet(tree, workers=0), seed=1, batch=4)
    in_workers = epoch(imagenet(tree, workers=2), seed=1, batch=4)
    assert_same_batches(in_process, in_workers)
    assert_same_batches(
        list(imagenet(tree).batches("test", 4)), list(imagenet(tree, workers=2).batches("test", 4))
    )
    assert torch.equal(torch.get_rng_state(), state)


def test_start_batch_gives_the_tail_of_the_epoch_and_leaves_the_generator_as_a_whole_epoch(
    tree: Path,
) -> None:
    data = imagenet(tree, workers=2)
    whole_gen, tail_gen = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    whole = list(data.batches("train", 4, generator=whole_gen, augment=True))
    tail = list(data.batches("train", 4, generator=tail_gen, augment=True, start_batch=2))
    assert_same_batches(tail, whole[2:])
    assert torch.equal(whole_gen.get_state(), tail_gen.get_state())
    assert list(data.batches("train", 4, generator=tail_gen, start_batch=4)) == []
    with pytest.raises(ValueError, match=r"start_batch must be in \[0, 4\]"):
        data.batches("train", 4, start_batch=5)


def test_the_random_crop_stays_in_the_image_with_the_recipes_area_and_ratio() -> None:
    areas, ratios = [], []
    for seed in range(400):
        u = torch.rand(views.DRAWS - 1, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        box = views.random_box(300, 400, u.tolist())
        assert 0 <= box.top <= 300 - box.height and 0 <= box.left <= 400 - box.width
        areas.append(box.height * box.width / (300 * 400))
        ratios.append(box.width / box.height)
    assert 0.07 < min(areas) < 0.15 and 0.9 < max(areas) <= 1.0
    assert 0.7 < min(ratios) < 0.8 and 1.25 < max(ratios) < 1.4
    # no try fits a 1 x 1000 strip: the central box, cut to the widest allowed ratio
    assert views.random_box(1, 1000, [0.5] * (views.DRAWS - 1)) == views.Box(0, 499, 1, 1)
    assert views.central_box(100, 50) == views.Box(16, 0, 67, 50)


def test_a_train_view_is_the_box_of_its_seed_resized_and_flipped_half_the_time() -> None:
    image = torch.arange(3 * 30 * 40).remainder(251).to(torch.uint8).view(3, 30, 40)
    seeds = [views.sample_seed(9, position) for position in range(40)]
    assert len(set(seeds)) == 40 and all(0 <= s < 2**64 for s in seeds)
    flips = 0
    for seed in seeds:
        u = torch.rand(
            views.DRAWS, generator=torch.Generator().manual_seed(seed), dtype=torch.float64
        ).tolist()
        box = views.random_box(30, 40, u[:-1])
        size, bilinear = [224, 224], F.InterpolationMode.BILINEAR
        crop = F.resized_crop(image, box.top, box.left, box.height, box.width, size, bilinear, antialias=True)
        flips += u[-1] < 0.5
        expected = F.horizontal_flip(crop) if u[-1] < 0.5 else crop
        assert torch.equal(views.train_view(image, seed), expected)
    assert 10 < flips < 30


# -- subsets ---------------------------------------------------------------------------------
def test_classes_and_per_class_keep_the_first_by_sorted_name(tree: Path) -> None:
    data = imagenet(tree, classes=2, per_class=3)
    assert data.class_names == ("n01", "n02")
    assert (data.train_size, data.test_size) == (6, 4)  # per_class leaves val whole
    names = [data._split("train").path(k).split("/")[-2:] for k in range(6)]
    assert names == [[c, f] for c in ("n01", "n02") for f in ("a.JPEG", "b.jpeg", "c.jpg")]
    assert sorted(torch.cat([y for _, y in data.batches("test", 4)]).tolist()) == [0, 0, 1, 1]


# -- a run through the CLI, stopped mid-epoch, with workers --------------------------------
def cli_args(tree: Path, out: Path, *extra: str) -> list[str]:
    """15 train images, batch 4, drop_last: 3 steps per epoch, 2 epochs, 2 workers."""
    args = ["train", "--dataset", "imagenet", "--arch", "resnet18", "--width", "0.0625", "--method", "stompp"]
    args += ["--epochs", "2", "--threads", "1", "--workers", "2", "--data-root", str(tree)]
    args += ["--set", "recipe.batch_size=4", "--no-progress", "--checkpoint-seconds", "0"]
    return [*args, *extra, "--out", str(out)]


def train_cli(tree: Path, out: Path, *extra: str) -> int:
    return main(cli_args(tree, out, *extra))


@pytest.fixture(scope="module")
def whole(tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted run, trained once for the tests below (read only)."""
    out = tmp_path_factory.mktemp("imagenet-run") / "whole"
    assert train_cli(tree, out) == 0
    return out


def assert_same_run(whole: Path, resumed: Path) -> None:
    """The records and the final weights of an uninterrupted run."""
    assert_same_records(whole, resumed)
    weights = [run / "model.pt" for run in (whole, resumed)]
    assert weights[0].exists() == weights[1].exists()
    if weights[0].exists():
        a, b = (torch.load(w, weights_only=True)["state_dict"] for w in weights)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_run_with_workers_stopped_mid_epoch_resumes_bit_for_bit(
    tree: Path, whole: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        stop_at(patch, 4)  # mid-way through the second epoch
        assert train_cli(tree, tmp_path / "stopped") == checkpoint.EXIT_PREEMPTED
    assert not (tmp_path / "stopped" / "result.json").exists()
    torch.manual_seed(12345)  # a new process would have other global RNG states
    assert train_cli(tree, tmp_path / "stopped") == 0
    assert_same_run(whole, tmp_path / "stopped")


def test_a_sigterm_to_every_process_of_the_job_checkpoints_and_stops_the_workers(
    tree: Path, whole: Path, tmp_path: Path
) -> None:
    """As SLURM's --signal=TERM: the workers get it too, outlive it, and the run checkpoints."""
    out = tmp_path / "stopped"
    args = cli_args(tree, out, "--checkpoint-steps", "1")[1:]
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmark.cli", "train", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, workers included
    )
    deadline = time.monotonic() + 120
    while not (out / checkpoint.CHECKPOINT_NAME).exists():  # the first step is done
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
        time.sleep(0.02)
    workers = children(proc.pid)
    os.killpg(proc.pid, signal.SIGTERM)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == checkpoint.EXIT_PREEMPTED, output
    assert "killed by signal" not in output and workers
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    assert train_cli(tree, out, "--checkpoint-steps", "1") == 0
    assert_same_run(whole, out)


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


# -- bad trees (docs/ERRORS.md, "bnnbench train: ImageNet") ----------------------------------
def _root_missing(root: Path) -> Path:
    return root / "nowhere"


def _split_missing(root: Path) -> Path:
    write_tree(root, train=1, val=1)
    (root / "imagenet" / "val").rename(root / "imagenet" / "validation")
    return root


def _classes_differ(root: Path) -> Path:
    write_tree(root, train=1, val=1)
    (root / "imagenet" / "val" / "n02").rename(root / "imagenet" / "val" / "n04")
    return root


def _empty_class(root: Path) -> Path:
    write_tree(root, train=1, val=1)
    for path in (root / "imagenet" / "train" / "n02").iterdir():
        path.unlink()
    return root


def _unreadable_image(root: Path) -> Path:
    write_tree(root, train=4, val=1)
    path = root / "imagenet" / "train" / "n03" / "b.jpeg"
    path.write_bytes(path.read_bytes()[:100])  # cut inside the JPEG's data
    return root


def _too_many_classes(root: Path) -> Path:
    return write_tree(root, train=1, val=1)


DATA_CASES: dict[str, tuple[Callable[[Path], Path], list[str], list[str]]] = {
    "imagenet-root-missing": (_root_missing, [], ["data root", "nowhere is not a directory"]),
    "imagenet-split-missing": (_split_missing, [], ["missing directory", "imagenet/val."]),
    "imagenet-classes-differ": (
        _classes_differ,
        [],
        [
            "the class folders of",
            "imagenet/train (3) and",
            "imagenet/val (3) differ",
            "only in train: n02",
            "only in val: n04",
        ],
    ),
    "imagenet-empty-class": (_empty_class, [], ["class folder(s) without images:", "imagenet/train/n02."]),
    "imagenet-unreadable-image": (
        _unreadable_image,
        ["--workers", "2"],
        [
            "cannot read",
            "imagenet/train/n03/b.jpeg: OSError",
            "the file is truncated, corrupt or not an image",
        ],
    ),
    "imagenet-too-many-classes": (
        _too_many_classes,
        ["--classes", "5"],
        ["--classes 5 asks for more than the 3 class folders of", "imagenet/train."],
    ),
}
ERROR_CASES = [*DATA_CASES, "imagenet-bad-option"]


@pytest.mark.parametrize(("make", "args", "expected"), DATA_CASES.values(), ids=DATA_CASES)
def test_a_bad_tree_names_what_is_wrong_the_layout_and_how_to_obtain_imagenet(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make: Callable[[Path], Path],
    args: list[str],
    expected: list[str],
) -> None:
    root = make(tmp_path / "data")
    code = train_cli(root, tmp_path / "run", *args)
    text = capsys.readouterr().err
    assert code == 2, text
    assert "Traceback" not in text and "DataLoader worker" not in text
    assert text.startswith("bnnbench train: error: dataset 'imagenet': ")
    layout = f"Expected layout:\n  {root}/imagenet/train/<wnid>/*.JPEG"
    fix = ["https://image-net.org", "ILSVRC2012", "valprep.sh", "--data-root DIR", "BNNBENCH_DATA"]
    for part in [*expected, layout, *fix]:
        assert part in text, f"{part!r} not in:\n{text}"
    assert not (tmp_path / "run" / "metrics.csv").exists()


@pytest.mark.parametrize(
    ("flag", "value", "least"), [("--per-class", "0", 1), ("--classes", "-2", 1), ("--workers", "-1", 0)]
)
def test_options_out_of_range_are_refused(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str, least: int
) -> None:
    """Case ``imagenet-bad-option``."""
    assert train_cli(tree, tmp_path / "run", flag, value) == 2
    assert f"dataset 'imagenet': {flag} {value} must be >= {least}" in capsys.readouterr().err


def test_without_a_data_root_the_message_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BNNBENCH_DATA", raising=False)
    with pytest.raises(
        UserError, match=r"no data root given\.\nExpected layout:\n  <data root>/imagenet/train"
    ):
        load_dataset("imagenet")


def test_a_tree_without_classes_is_refused(tmp_path: Path) -> None:
    for split in ("train", "val"):
        (tmp_path / "imagenet" / split).mkdir(parents=True)
    with pytest.raises(UserError, match=r"imagenet/train holds no class folders"):
        load_dataset("imagenet", tmp_path)
