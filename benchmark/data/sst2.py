"""``sst2``: GLUE's SST-2 sentences, tokenized once at load by a local tokenizer directory.

Source: the Stanford Sentiment Treebank (Socher et al. 2013, "Recursive Deep Models for Semantic
Compositionality Over a Sentiment Treebank") as binary sentence classification in GLUE (Wang et
al. 2019, ICLR; https://gluebenchmark.com/tasks): 67,349 train and 872 dev sentences, labels 0
(negative) and 1 (positive). GLUE's ``test.tsv`` has no labels (its scores come from GLUE's
server), so the test split here is ``dev.tsv``, as in most SST-2 results. The layout is that of
GLUE's ``SST-2.zip`` unzipped into the data root::

    <data root>/SST-2/train.tsv    header "sentence<TAB>label", then one sentence per line
    <data root>/SST-2/dev.tsv      the same columns

Only the folder name ``SST-2`` is accepted (GLUE's own; one layout gives one clear message): a
copy under another name can be linked there. Columns are found by name in the header; lines are
split at tabs, and quote characters are part of the sentence.

Tokenization: ``AutoTokenizer.from_pretrained(model_dir, local_files_only=True)``, where
``model_dir`` is ``--model-dir`` (config ``model_dir``), a local copy of bert-base-uncased for
the paper's BERT runs; nothing is downloaded. Each sentence becomes ``[CLS] tokens [SEP]``
truncated to ``max_length`` tokens (``--max-length``, default 128: BERT's GLUE fine-tuning,
google-research/bert ``run_classifier.py``). Batches are padded per batch and ``augment`` is
ignored (:mod:`benchmark.data.text`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from benchmark.data.inputs import Inputs
from benchmark.data.options import DataOptions
from benchmark.data.registry import DATA_ROOT_ENV, DATASETS
from benchmark.data.text import TextDataset, TextSplit
from benchmark.errors import UserError

FOLDER = "SST-2"  # GLUE's folder name (SST-2.zip, download_glue_data.py)
FILES = {"train": "train.tsv", "test": "dev.tsv"}  # GLUE's test.tsv has no labels
COLUMNS = ("sentence", "label")
LABELS = {"0": 0, "1": 1}
CLASS_NAMES = ("negative", "positive")
SOURCE = (
    "download SST-2.zip from GLUE (https://gluebenchmark.com/tasks, or "
    "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip) and unzip it into the data root"
)
# the files AutoTokenizer reads a BERT tokenizer from (its class, its fast serialization, its vocabulary)
TOKENIZER_FILES = ("tokenizer_config.json", "tokenizer.json", "vocab.txt")
NEEDED = "tokenizer.json, or vocab.txt with a tokenizer_config.json naming its tokenizer_class"
MODEL_DIR_HOWTO = (
    "Give a local tokenizer directory with --model-dir DIR (workflow config: model_dir): for the "
    "paper's BERT runs a copy of bert-base-uncased (Devlin et al. 2019), made on a machine with "
    "internet by `hf download google-bert/bert-base-uncased --local-dir DIR` (huggingface_hub's CLI; "
    "formerly `huggingface-cli download`). Nothing is downloaded at run time."
)


@DATASETS.register("sst2")
def load_sst2(data_root: Path | None, options: DataOptions) -> TextDataset:
    """SST-2: 67,349 train / 872 test (GLUE dev) sentences, 2 classes, tokenized by ``model_dir``."""
    directory = find_directory(data_root)
    rows = {split: read_tsv(directory / name) for split, name in FILES.items()}  # checked before tokenizing
    model_dir = tokenizer_directory(options.model_dir)
    tokenizer = load_tokenizer(model_dir)
    check_max_length(options.max_length, tokenizer.model_max_length, model_dir)
    train, test = (tokenize(tokenizer, *rows[split], options.max_length) for split in FILES)
    inputs = Inputs.text(len(tokenizer), str(model_dir))  # len: the vocabulary and any added tokens
    return TextDataset("sst2", len(CLASS_NAMES), train, test, inputs, tokenizer.pad_token_id, CLASS_NAMES)


def find_directory(data_root: Path | None) -> Path:
    """``<data root>/SST-2``, once both of its files are there."""
    if data_root is None:
        raise layout_error(Path("<data root>"), "no data root given.")
    directory = data_root / FOLDER
    if not directory.is_dir():
        raise layout_error(data_root, f"directory {directory} does not exist.")
    missing = [str(directory / f) for f in FILES.values() if not (directory / f).is_file()]
    if missing:
        raise layout_error(data_root, f"missing file(s): {', '.join(missing)}.")
    return directory


def read_tsv(path: Path) -> tuple[list[str], list[int]]:
    """The sentences and labels of one GLUE SST-2 file (header ``sentence<TAB>label``)."""
    lines = [line.rstrip("\r") for line in path.read_text(encoding="utf-8").split("\n")]
    header = lines[0].split("\t")
    rows = [(n, line.split("\t")) for n, line in enumerate(lines[1:], start=2) if line]
    if not all(c in header for c in COLUMNS):
        problem = f"{path} has header {header}, expected the columns {list(COLUMNS)}."
        raise layout_error(path.parent.parent, problem)
    if not rows:
        raise layout_error(path.parent.parent, f"{path} holds no sentences, only its header.")
    examples = [parse_row(path, n, fields, header) for n, fields in rows]
    return [sentence for sentence, _ in examples], [label for _, label in examples]


def parse_row(path: Path, line: int, fields: list[str], header: list[str]) -> tuple[str, int]:
    """(sentence, label) of line ``line`` (1-based) of ``path``, split at tabs."""
    if len(fields) != len(header):
        problem = f"{path} line {line} has {len(fields)} tab-separated field(s), its header {len(header)}."
        raise layout_error(path.parent.parent, problem)
    sentence, label = (fields[header.index(c)] for c in COLUMNS)
    if label not in LABELS:
        raise layout_error(path.parent.parent, f"{path} line {line} has label {label!r}, expected 0 or 1.")
    return sentence, LABELS[label]


def tokenizer_directory(model_dir: str | None) -> Path:
    """The absolute tokenizer directory, once it exists and holds tokenizer files."""
    if not model_dir:
        raise tokenizer_error("no tokenizer directory given.")
    directory = Path(model_dir).expanduser().resolve()
    if not directory.is_dir():
        raise tokenizer_error(f"the tokenizer directory {directory} does not exist.")
    if not any((directory / f).is_file() for f in TOKENIZER_FILES):
        raise tokenizer_error(f"{directory} holds no tokenizer files (none of {', '.join(TOKENIZER_FILES)}).")
    return directory


def load_tokenizer(directory: Path) -> Any:
    """``AutoTokenizer.from_pretrained(directory, local_files_only=True)``; a UserError naming the
    directory when transformers cannot make a tokenizer of its files."""
    from transformers import AutoTokenizer  # imported here: seconds that only text runs need to spend

    try:
        return AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
    except (OSError, ValueError) as err:
        first = next(iter(str(err).strip().splitlines()), type(err).__name__).rstrip(": ")
        problem = f"cannot load a tokenizer from {directory}: {first}"
        raise tokenizer_error(f"{problem} (a BERT tokenizer needs {NEEDED}).") from None


def check_max_length(max_length: int, model_max_length: int, model_dir: Path) -> None:
    """A UserError unless ``2 <= max_length <= model_max_length``: [CLS] and [SEP] take two
    tokens, and the model has position embeddings for ``model_max_length`` (BERT: 512)."""
    if not 2 <= max_length <= model_max_length:
        raise UserError(
            f"dataset 'sst2': --max-length {max_length} must be in [2, {model_max_length}] ([CLS] and "
            f"[SEP] take 2 tokens; the tokenizer in {model_dir} allows {model_max_length}); BERT's "
            f"GLUE fine-tuning uses 128, the default"
        )


def tokenize(tokenizer: Any, sentences: list[str], labels: list[int], max_length: int) -> TextSplit:
    """``[CLS] sentence [SEP]`` token ids of every sentence, truncated to ``max_length``."""
    encoded = tokenizer(sentences, truncation=True, max_length=max_length)
    ids = tuple(torch.tensor(x, dtype=torch.int64) for x in encoded["input_ids"])
    types = encoded.get("token_type_ids")
    type_ids = None if types is None else tuple(torch.tensor(x, dtype=torch.int64) for x in types)
    return TextSplit(ids, torch.tensor(labels, dtype=torch.int64), type_ids)


def layout_error(root: Path, problem: str) -> UserError:
    """A UserError: what is wrong, the expected files, how to obtain them."""
    expected = "\n".join(f"  {root}/{FOLDER}/{f}" for f in FILES.values())
    return UserError(
        f"dataset 'sst2': {problem}\nExpected layout (header sentence<TAB>label, labels 0 or 1):\n"
        f"{expected}\nTo obtain it: {SOURCE}. Set the data root with --data-root DIR or the "
        f"{DATA_ROOT_ENV} environment variable; nothing is downloaded at run time."
    )


def tokenizer_error(problem: str) -> UserError:
    """A UserError about the tokenizer directory and how to provide one."""
    return UserError(f"dataset 'sst2' needs a tokenizer: {problem}\n{MODEL_DIR_HOWTO}")
