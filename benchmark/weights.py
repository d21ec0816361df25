"""A finished run's weights (``model.pt``) and starting a run from saved weights (``--init-from``).

Every run that finishes writes ``model.pt`` beside ``result.json`` (DESIGN 6): a plain dict of
tensors and strings, loadable with ``torch.load(path, weights_only=True)``::

    {"format": 1, "arch": "bireal18", "width": 1.0, "identity": {...}, "state_dict": {...}}

``state_dict`` is the trained model's, as converted by its method: a binary layer keeps its
float latent weight under the float layer's name (``layer1.0.conv1.weight``), so the file of an
``fp`` run and of a binary run both hold full-precision weights that a float model can load.

``--init-from`` (a run directory or a file) loads such weights into the new run's float model
*before* its method converts it, so a binary run fine-tunes a pretrained float network (Bi-Real
"FT", StoMPP appendix B.3; PaBT's start from a float model). Every parameter and buffer of the
new model must be in the file with the same shape; a quantizer's state in the file (a binary
source run's masks and scales) is not part of a float model and is left out; any other key the
new model lacks means another architecture, and is refused with the mismatched keys named.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from benchmark.atomic import replacing
from benchmark.errors import UserError

WEIGHTS_NAME = "model.pt"
FORMAT = 1
QUANTIZER_PARTS = (".weight_quantizer.", ".input_quantizer.")  # a binary layer's own state
SHOWN = 3  # mismatched keys named per kind in a message


def save(path: Path, model: nn.Module, arch: str, width: float, identity: Mapping[str, Any]) -> None:
    """Write ``model``'s weights to ``path`` atomically (CPU tensors).

    The bytes are a function of the weights alone: ``torch.save`` to a file names the archive
    inside it after the file, and the atomic write goes through a randomly named temporary
    file, so the payload is serialised in memory first. A run started from these weights
    records their SHA-256, which must not depend on where or when they were written."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    payload = {"format": FORMAT, "arch": arch, "width": width, "identity": dict(identity)}
    payload["state_dict"] = state
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    with replacing(path) as tmp:
        tmp.write_bytes(buffer.getvalue())


def resolve(source: str | Path) -> Path:
    """The weights file ``source`` names: itself, or ``<run directory>/model.pt``."""
    path = Path(source).expanduser()
    if path.is_dir():
        path = path / WEIGHTS_NAME
    if not path.is_file():
        raise UserError(
            f"--init-from {source}: no weights at {path}; give a finished run's directory (it holds "
            f"{WEIGHTS_NAME} once the run has finished) or a {WEIGHTS_NAME} file"
        )
    return path


def digest(path: Path) -> str:
    """SHA-256 of the file: what a run's config records of its initial weights."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read(path: Path) -> dict[str, Any]:
    """The payload of a weights file (UserError if it is not one)."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise UserError(
            f"--init-from: cannot read {path} as weights ({type(err).__name__}); give a {WEIGHTS_NAME} "
            "written by bnnbench train"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or "state_dict" not in payload:
        raise UserError(
            f"--init-from: {path} is not a bnnbench weights file (format {FORMAT}); give a "
            f"{WEIGHTS_NAME} written by bnnbench train"
        )
    return payload


def float_state(saved: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``saved`` without the state of quantizers (not part of a float model)."""
    return {k: v for k, v in saved.items() if not any(part in k for part in QUANTIZER_PARTS)}


def mismatches(model: nn.Module, saved: Mapping[str, torch.Tensor]) -> dict[str, list[str]]:
    """Why ``saved`` does not fit ``model``: keys missing from the file, keys the model lacks,
    and shape differences (empty lists when it fits)."""
    own = model.state_dict()
    return {
        "missing": [k for k in own if k not in saved],
        "unexpected": [k for k in saved if k not in own],
        "shape": [
            f"{k} (file {list(saved[k].shape)}, model {list(v.shape)})"
            for k, v in own.items()
            if k in saved and saved[k].shape != v.shape
        ],
    }


def describe(problems: dict[str, list[str]]) -> str:
    """``missing 149 keys: a, b, c, ...; unexpected 3 keys: ...`` (the first SHOWN of each)."""
    parts = []
    for kind, keys in problems.items():
        if keys:
            more = ", ..." if len(keys) > SHOWN else ""
            parts.append(f"{kind} {len(keys)} key(s): {', '.join(keys[:SHOWN])}{more}")
    return "; ".join(parts)


def load_into(model: nn.Module, path: Path, arch: str) -> dict[str, Any]:
    """Load the float weights of ``path`` into ``model`` (a float model of ``arch``); returns
    the file's identity. UserError naming the mismatched keys when the file does not fit."""
    payload = read(path)
    saved = float_state(payload["state_dict"])
    problems = mismatches(model, saved)
    if any(problems.values()):
        raise UserError(
            f"--init-from {path}: its weights (architecture '{payload.get('arch')}', width "
            f"{payload.get('width')}) do not fit this run's '{arch}': {describe(problems)}. Initialise "
            "from a run of the same architecture, width and dataset (number of classes and input channels)"
        )
    model.load_state_dict(saved, strict=True)
    return dict(payload.get("identity", {}))
