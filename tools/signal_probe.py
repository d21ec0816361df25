"""How much of the class survives each block of an untrained network: a linear probe per block.

For one architecture, converted by one method in one regime and left at its initialisation,
every block's output is averaged over its spatial positions (one vector per image), and a
multinomial logistic regression is fitted on the train split's vectors and scored on the test
split's. A probe accuracy near chance means the block's output no longer tells the classes
apart linearly: a gradient that reaches the layers before it through the binary path carries
little about the task. The idea of linear probes of intermediate features: Alain & Bengio,
"Understanding intermediate layers using linear classifier probes", arXiv 1610.01644.

    python -m tools.signal_probe --arch mobilenetv2 --width 0.25 --regime bnn
    python -m tools.signal_probe --arch resnet18 --width 0.125 --regime bnn --method ste

The blocks are the children of the architecture's stage containers (``layers.N`` of
MobileNetV2, ``layer1``..``layer4`` of the ResNets) unless ``--modules`` names others. The
network runs in training mode (BatchNorm on batch statistics, as the first training steps see
it), in batches of 256 train images in a fixed order. CPU, deterministic for a seed.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from torch import nn

import methods
from benchmark.data import load_dataset
from benchmark.models import binarizable, build_model

STAGES = ("layers", "layer1", "layer2", "layer3", "layer4")


@dataclasses.dataclass(frozen=True)
class Probe:
    """One block: its name, the width of its pooled output and the probe's test accuracy (%)."""

    module: str
    dim: int
    accuracy: float


def default_blocks(model: nn.Module) -> list[str]:
    """The blocks of the stage containers: ``layers.0``, ``layers.1``, ... or ``layer1``, ..."""
    names = dict(model.named_children())
    if "layers" in names:
        return [f"layers.{name}" for name, _ in names["layers"].named_children()]
    return [name for name in STAGES if name in names]


def pooled_outputs(
    model: nn.Module, blocks: Sequence[str], batches: Iterable[tuple[torch.Tensor, torch.Tensor]]
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Each block's output averaged over its spatial positions, for every image; the labels."""
    found = dict(model.named_modules())
    missing = [name for name in blocks if name not in found]
    if missing:
        raise SystemExit(f"signal_probe: no module {missing} in the model (has e.g. {default_blocks(model)})")
    outputs: dict[str, list[torch.Tensor]] = {name: [] for name in blocks}

    def keep(name: str):
        return lambda _module, _inputs, out: outputs[name].append(out.mean((2, 3)))

    hooks = [found[name].register_forward_hook(keep(name)) for name in blocks]
    labels = []
    with torch.no_grad():
        for images, targets in batches:
            model(images)
            labels.append(targets)
    for hook in hooks:
        hook.remove()
    return {name: torch.cat(parts).numpy() for name, parts in outputs.items()}, torch.cat(labels).numpy()


def probe(
    arch: str,
    width: float,
    regime: str,
    method: str = "ste",
    dataset: str = "digits",
    seed: int = 0,
    blocks: Sequence[str] | None = None,
) -> list[Probe]:
    """The linear-probe accuracy of every block of ``arch`` at initialisation (see the module)."""
    torch.manual_seed(seed)
    data = load_dataset(dataset)
    model = build_model(arch, data.inputs, data.num_classes, width)
    cls = methods.get_method(method)
    model = cls(cls.config_class(), regime, seed).convert(model, data.example_input(), binarizable(arch))
    model.train()
    blocks = list(blocks or default_blocks(model))
    order = torch.Generator().manual_seed(seed)
    train, train_labels = pooled_outputs(model, blocks, data.batches("train", 256, generator=order))
    test, test_labels = pooled_outputs(model, blocks, data.batches("test", 256))
    result = []
    for name in blocks:
        fit = LogisticRegression(max_iter=500).fit(train[name], train_labels)
        result.append(Probe(name, train[name].shape[1], 100.0 * fit.score(test[name], test_labels)))
    return result


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m tools.signal_probe", description=__doc__.splitlines()[0])
    p.add_argument("--arch", required=True)
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--regime", default="bnn", choices=("bnn", "bwn", "fp"))
    p.add_argument("--method", default="ste", help="the method that converts the network (default ste)")
    p.add_argument("--dataset", default="digits")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--modules", nargs="*", help="module names to probe (default: every block)")
    args = p.parse_args(argv)
    method = "fp" if args.regime == "fp" else args.method
    rows = probe(args.arch, args.width, args.regime, method, args.dataset, args.seed, args.modules)
    print(f"{args.arch} (width {args.width:g}), {method} ({args.regime}), {args.dataset}, seed {args.seed}:")
    print(f"{'block':14s} {'dim':>5s} {'probe acc (%)':>14s}")
    for row in rows:
        print(f"{row.module:14s} {row.dim:5d} {row.accuracy:14.1f}")


if __name__ == "__main__":
    main()
