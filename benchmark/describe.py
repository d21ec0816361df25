"""Human-readable descriptions: the method catalogue and a per-layer model summary."""

from __future__ import annotations

import methods
from benchmark import accounting
from benchmark.data import load_dataset
from benchmark.models import binarizable, build_model
from methods.config import describe
from methods.layers import QuantizedMixin


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
    """Per layer (execution order): type, what is binarized, parameters, bits, MACs, operations,
    BOPs and FLOPs; then the totals of ``benchmark.accounting`` (OPs = FLOPs + BOPs/64, size in
    bits) for the freshly converted model (for PaBT: every operation, before pruning)."""
    cls = methods.get_method(method)
    regime = regime or cls.regimes[0]
    data = load_dataset(dataset, data_root)
    model = build_model(arch, data.inputs, data.num_classes, width)
    example = data.example_input(1)
    model = methods.build_method(method, {}, regime, 0).convert(model, example, binarizable(arch))
    layers = accounting.layer_counts(model, example)
    rows = [("layer", "type", "weights", "inputs", "params", "bits", "MACs", "ops", "BOPs", "FLOPs")]
    for layer in layers:
        module = model.get_submodule(layer.name)
        bits = accounting.parameter_bits(module).get(id(module.weight))
        rows.append(
            (
                layer.name,
                layer.kind,
                "binary" if layer.binary_weight else "float",
                "binary" if layer.binary_input else "float",
                str(module.weight.numel()),
                str(bits if bits is not None else accounting.FLOAT_BITS * module.weight.numel()),
                str(layer.macs),
                str(layer.operations),
                str(layer.bops),
                str(layer.flops),
            )
        )
    total = accounting.count(model, example)
    macs = sum(layer.macs * layer.operations for layer in layers)
    return "\n".join(
        [
            f"{arch} (width {width}) on {dataset} with {method} ({regime})",
            _format_rows(rows),
            f"binary layers: {sum(isinstance(m, QuantizedMixin) for m in model.modules())}; "
            f"parameters: {sum(p.numel() for p in model.parameters())}; "
            f"MACs: {macs}; share of binary (weight and input) MACs: "
            f"{100.0 * total.bops / max(macs, 1):.1f}%",
            f"per example: BOPs {total.bops}; FLOPs {total.flops}; OPs = FLOPs + BOPs/64 = {total.ops:.6g}; "
            f"size {total.size_bits} bits ({total.size_bits / 1e6:.4g} Mbit)",
            f"convention: {accounting.SOURCE}; FLOPs and BOPs are multiply-accumulates (MACs) of Conv2d/"
            "Linear layers; a BWN layer's MACs are FLOPs; 1 bit per binary weight, 32 per other "
            "parameter, buffers not counted (benchmark.accounting)",
        ]
    )


def _format_rows(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)
