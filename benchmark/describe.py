"""Human-readable descriptions: the method catalogue and a per-layer model summary."""

from __future__ import annotations

import torch
from torch import nn

import methods
from benchmark.data import load_dataset
from benchmark.models import binarizable, build_model
from methods.config import describe
from methods.inputs import forward
from methods.layers import BINARY_LAYER_TYPES, QuantizedMixin


def describe_methods(pattern: str = "*") -> str:
    """Every method matching ``pattern`` with its summary, source and hyperparameters."""
    blocks = []
    for name in methods.method_names(pattern):
        cls = methods.get_method(name)
        lines = [
            f"{name}: {cls.summary}",
            f"  source: {cls.source}",
            f"  regimes: {', '.join(cls.regimes)}; orderings: {', '.join(cls.orderings) or 'none'}",
        ]
        for hp in describe(cls.config_class):
            choices = f" (one of {', '.join(hp['choices'])})" if hp["choices"] else ""
            lines.append(
                f"  {hp['name']} = {hp['default']!r} [{hp['type']}]{choices}: {hp['help']}"
                f"; source: {hp['source']}"
            )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) if blocks else f"no method matches '{pattern}'"


def summarize_model(
    arch: str,
    method: str,
    regime: str | None,
    dataset: str,
    width: float,
    data_root: str | None = None,
) -> str:
    """Per layer (execution order): type, what is binarized, parameters, MACs; totals at the end."""
    cls = methods.get_method(method)
    regime = regime or cls.regimes[0]
    data = load_dataset(dataset, data_root)
    model = build_model(arch, data.inputs, data.num_classes, width)
    example = data.example_input(1)
    model = methods.build_method(method, {}, regime, 0).convert(model, example, binarizable(arch))
    macs = layer_macs(model, example)
    rows = [("layer", "type", "weights", "inputs", "params", "MACs")]
    binary_macs = 0
    for name, module in model.named_modules():
        if name not in macs:
            continue
        w_bin = isinstance(module, QuantizedMixin) and module.binarizes_weight
        a_bin = isinstance(module, QuantizedMixin) and module.binarizes_input
        binary_macs += macs[name] if w_bin and a_bin else 0
        rows.append(
            (
                name,
                type(module).__name__,
                "binary" if w_bin else "float",
                "binary" if a_bin else "float",
                str(module.weight.numel()),
                str(macs[name]),
            )
        )
    total = sum(macs.values())
    return "\n".join(
        [
            f"{arch} (width {width}) on {dataset} with {method} ({regime})",
            _format_rows(rows),
            f"binary layers: {sum(isinstance(m, QuantizedMixin) for m in model.modules())}; "
            f"parameters: {sum(p.numel() for p in model.parameters())}; "
            f"MACs: {total}; share of binary (weight and input) MACs: "
            f"{100.0 * binary_macs / max(total, 1):.1f}%",
        ]
    )


def layer_macs(model: nn.Module, example: torch.Tensor) -> dict[str, int]:
    """Multiply-accumulates of every Conv2d/Linear on one example (names in execution order)."""
    macs: dict[str, int] = {}
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, tuple(BINARY_LAYER_TYPES)):

            def hook(m: nn.Module, _i: object, out: torch.Tensor, name: str = name) -> None:
                per_output = m.weight[0].numel()
                macs[name] = int(out[0].numel()) * per_output

            handles.append(module.register_forward_hook(hook))
    model.eval()
    with torch.no_grad():
        forward(model, example)
    for h in handles:
        h.remove()
    return macs


def _format_rows(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)
