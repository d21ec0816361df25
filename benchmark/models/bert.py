"""BERT for sentence classification (Devlin et al. 2019, "BERT: Pre-training of Deep Bidirectional
Transformers for Language Understanding"): transformers' ``BertForSequenceClassification``.

The network: token, position and segment embeddings (``nn.Embedding`` lookups, then LayerNorm);
L encoder layers, each ``x + Attn(x)`` then ``x + FFN(x)`` (post-LayerNorm) with

    Attn(x) = W_o [softmax(Q_h K_h^T / sqrt(d_h) + mask) V_h]_h,   Q_h, K_h, V_h = W_q x, W_k x, W_v x
    FFN(x)  = W_2 GELU(W_1 x)

then the pooler ``tanh(W_p x_[CLS])`` and a linear classifier. What a method may binarize (the
declaration registered below):

- binarizable: the six Linear layers of every encoder layer, ``attention.self.{query,key,value}``,
  ``attention.output.dense`` (W_o), ``intermediate.dense`` (W_1) and ``output.dense`` (W_2);
- full precision: ``bert.pooler.dense`` and ``classifier``, the two Linear layers after the
  encoder (the counterpart of the image networks' classifier); the embeddings are lookups, not
  Conv2d/Linear, and stay float like the LayerNorms;
- real-valued: the attention products ``Q K^T`` and ``softmax(.) V`` multiply two activations and
  have no weight, so no layer swap reaches them (binarizing them, as BiBERT does, Qin et al. 2022,
  would be a method of its own);
- GELU becomes an identity in the ``bnn`` regime (kept in ``bwn``). Mathematically
  sign(GELU(x)) = sign(x), but in float32 GELU(x) rounds to -0.0 for x <= -5.5, whose sign here
  is +1; its slope is negative for x < -0.75, so the straight-through pseudo-gradient
  through it points the wrong way there; and StoMPP's unfrozen relaxation clip(GELU(x), -1, 1)
  lies in [-0.17, 1], squashing every negative input towards 0 while the binary value is -1
  (the ReLU problem, milder). The next binary layer's input quantizer bounds the activation
  instead, as for the image networks' ReLUs.

transformers builds that GELU as its ``GELUActivation``, which calls ``torch.nn.functional.gelu``
(the exact erf form); the builders swap it for the identical ``torch.nn.GELU`` so that the
declaration is a torch type and importing this module does not import transformers (seconds that
only text runs need). Attention runs in transformers' ``eager`` implementation: the formula above
as two matmuls and a softmax, the mask added as the most negative float, so masked positions get
exactly zero weight on every device (the fused SDPA kernels choose among algorithms per device).

Architectures (``width`` scales the hidden size H, rounded to a multiple of the heads A, and the
feed-forward size 4H):

- ``bert_base``: if the tokenizer directory (``--model-dir``) holds weights, they are loaded with
  ``from_pretrained(model_dir, num_labels=num_classes, local_files_only=True)`` (the paper's BERT
  fine-tuning; the classifier, and the pooler if the checkpoint lacks it, start from BERT's
  initialisation); their shapes are fixed, so ``width`` must be 1. ``bert_base`` thus means
  "BertForSequenceClassification from the model directory's weights", whatever its size (a
  6-layer MiniLM checkpoint loads too). Without weights it is BERT-base built from scratch
  (L=12, H=768, A=12, Devlin et al. 2019 section 3, which are ``BertConfig()``'s defaults) with
  the tokenizer's vocabulary, for from-scratch runs and tests.
- ``bert_tiny``: L=2, H=128, A=2 (BERT-Tiny of Turc et al. 2019, "Well-Read Students Learn
  Better"), always from scratch: for tests and laptop runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from benchmark.data.inputs import Inputs
from benchmark.errors import UserError
from benchmark.models.registry import register_arch
from methods.convert import replace_module

FULL_PRECISION = ("bert.pooler.dense", "classifier")
ACTIVATIONS = (nn.GELU,)  # what GELUActivation is swapped for (see the module docstring)
NEW_HEAD = ("classifier.", "bert.pooler.")  # parameters a pretrained encoder may lack: initialised here


@dataclasses.dataclass(frozen=True)
class Shape:
    """Layers L, hidden size H and attention heads A; the feed-forward size is 4H (Devlin et al.)."""

    layers: int
    hidden: int
    heads: int

    def scaled(self, width: float) -> Shape:
        """H times ``width``, rounded to a multiple of A (at least A)."""
        hidden = max(self.heads, round(self.hidden * width / self.heads) * self.heads)
        return dataclasses.replace(self, hidden=hidden)


BASE = Shape(layers=12, hidden=768, heads=12)  # BERT-base, Devlin et al. 2019 section 3
TINY = Shape(layers=2, hidden=128, heads=2)  # BERT-Tiny, Turc et al. 2019 (L=2, H=128, A=H/64)


@register_arch("bert_base", full_precision=FULL_PRECISION, activations=ACTIVATIONS, takes="text")
def bert_base(inputs: Inputs, num_classes: int, width: float = 1.0) -> nn.Module:
    """The model directory's BERT weights if it holds any, else BERT-base from scratch."""
    if inputs.model_dir is not None and holds_weights(Path(inputs.model_dir)):
        return pretrained(Path(inputs.model_dir), num_classes, width)
    return from_scratch(BASE.scaled(width), inputs.vocab_size, num_classes)


@register_arch("bert_tiny", full_precision=FULL_PRECISION, activations=ACTIVATIONS, takes="text")
def bert_tiny(inputs: Inputs, num_classes: int, width: float = 1.0) -> nn.Module:
    """A 2-layer BERT of hidden size 128 times ``width``, from scratch."""
    return from_scratch(TINY.scaled(width), inputs.vocab_size, num_classes)


def from_scratch(shape: Shape, vocab_size: int, num_classes: int) -> nn.Module:
    """A randomly initialised BertForSequenceClassification (BERT's initialisation, drawn from
    torch's global generator) of ``shape``; every other setting is BertConfig's default."""
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=shape.hidden,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        intermediate_size=4 * shape.hidden,
        num_labels=num_classes,
        attn_implementation="eager",
    )
    return with_torch_gelu(BertForSequenceClassification(config))


def holds_weights(directory: Path) -> bool:
    """Whether ``directory`` holds transformers weights (safetensors or PyTorch, maybe sharded)."""
    names = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
    names += ("pytorch_model.bin.index.json",)  # transformers.utils' *WEIGHTS*_NAME constants
    return any((directory / name).is_file() for name in names)


def pretrained(directory: Path, num_classes: int, width: float) -> nn.Module:
    """BertForSequenceClassification with ``directory``'s weights, in float32, fully offline."""
    if width != 1.0:
        raise UserError(
            f"architecture 'bert_base' loads the pretrained weights in {directory}, whose sizes are "
            f"fixed, so it runs at width 1, not {width}: leave --width out (or 1), or use bert_tiny "
            f"(or a --model-dir without weights) for a narrower BERT trained from scratch"
        )
    check_config(directory)
    from transformers import BertForSequenceClassification

    with quiet_transformers():
        model, info = BertForSequenceClassification.from_pretrained(
            str(directory),
            num_labels=num_classes,
            local_files_only=True,
            attn_implementation="eager",
            dtype=torch.float32,
            ignore_mismatched_sizes=True,  # a classifier fine-tuned for another label count: redrawn
            output_loading_info=True,
        )
    check_loaded(directory, info)
    return with_torch_gelu(model)


def check_config(directory: Path) -> None:
    """A UserError unless ``directory/config.json`` describes a BERT with GELU activations."""
    try:
        config = json.loads((directory / "config.json").read_text())
    except (OSError, ValueError):
        config = {"model_type": "(no readable config.json)"}
    if config.get("model_type") != "bert":
        raise UserError(
            f"architecture 'bert_base' loads BERT weights, but {directory}/config.json says model_type "
            f"{config.get('model_type')!r}, not 'bert': give a --model-dir with a BERT checkpoint "
            f"(such as bert-base-uncased), or one with only a tokenizer to train BERT-base from scratch"
        )
    if config.get("hidden_act", "gelu") != "gelu":
        raise UserError(
            f"architecture 'bert_base' declares GELU as the activation a BNN replaces, but "
            f"{directory}/config.json has hidden_act {config['hidden_act']!r}: give a checkpoint with "
            f"hidden_act 'gelu' (BERT's own)"
        )


def check_loaded(directory: Path, info: dict[str, Any]) -> None:
    """A UserError when the checkpoint left encoder weights missing or of another shape; the
    classifier and pooler may be missing (a pretrained encoder) and are initialised; checkpoint
    entries the model has no use for (pre-training heads) are ignored."""
    missing = sorted(k for k in info["missing_keys"] if not k.startswith(NEW_HEAD))
    mismatched = sorted(str(m[0]) for m in info["mismatched_keys"] if not str(m[0]).startswith(NEW_HEAD))
    problems = [f"missing {_some(missing)}"] if missing else []
    problems += [f"shapes differ for {_some(mismatched)}"] if mismatched else []
    if problems:
        raise UserError(
            f"architecture 'bert_base': the weights in {directory} do not fit the BERT its config.json "
            f"describes: {'; '.join(problems)}. Give a --model-dir whose config.json and weights "
            f"belong together (a copy of bert-base-uncased)"
        )


def _some(keys: list[str], shown: int = 3) -> str:
    """The first ``shown`` keys, and how many more."""
    more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
    return ", ".join(keys[:shown]) + more


def with_torch_gelu(model: nn.Module) -> nn.Module:
    """Swap every ``GELUActivation`` that calls ``F.gelu`` (transformers' ``hidden_act="gelu"``)
    for the identical ``nn.GELU``."""
    from transformers.activations import GELUActivation

    names = [n for n, m in model.named_modules() if type(m) is GELUActivation and m.act is F.gelu]
    for name in names:
        replace_module(model, name, nn.GELU())
    return model


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """transformers' logging at error level and its progress bars off, restored afterwards.

    ``from_pretrained`` logs a load report as a warning (for an encoder checkpoint: "classifier
    newly initialized") and draws a progress bar; :func:`check_loaded` reads the same report and
    refuses what is wrong, so the expected report would only be noise on every run.
    """
    from transformers.utils import logging as hf_logging

    level, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()
