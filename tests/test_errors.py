"""Bad input stops with a clear message before any compute is spent (issue 4; DESIGN 9).

One test per row of docs/ERRORS.md: the message names what is wrong and how to fix it, the
exit code is 2 (argparse's and ours), there is no traceback, and nothing was trained. Run
identities and hyperparameters are checked through ``bnnbench train``; workflow configs
through the schema and ``benchmark.config_checks.check_config``, which the Snakefile runs before
building the DAG, and once end to end through ``snakemake --dry-run``.
"""

from __future__ import annotations

import ast
import copy
import importlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from benchmark import checkpoint, config_checks, configs, grid
from benchmark.cli import OFFLINE_ENV, main
from tests.cifar_files import write_batch, write_cifar10
from tests.idx_files import write_idx, write_tree

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "ERRORS.md"
SCHEMA = ROOT / "workflows" / "schemas" / "config.schema.yaml"
SMOKE = ROOT / "workflows" / "config" / "smoke.yaml"

BASE = {
    "--dataset": "synthetic",
    "--arch": "resnet18",
    "--method": "stompp",
    "--width": "0.0625",
    "--epochs": "1",
    "--threads": "1",
}
SETTINGS = ["--no-progress", "--checkpoint-seconds", "0"]


def train_cli(capsys: pytest.CaptureFixture[str], out: Path, *args: str, **flags: str) -> tuple[int, str]:
    """``bnnbench train`` with BASE, ``flags`` (``method="ste"`` -> ``--method ste``) and ``args``;
    returns (exit code, everything printed)."""
    options = BASE | {f"--{k.replace('_', '-')}": v for k, v in flags.items()}
    argv = ["train", *[x for kv in options.items() for x in kv], *SETTINGS, *args, "--out", str(out)]
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own errors
        code = int(exit_.code or 0)
    printed = capsys.readouterr()
    return code, printed.out + printed.err


def assert_refused(code: int, text: str, *expected: str) -> None:
    assert code == 2, text
    assert "Traceback" not in text
    for part in expected:
        assert part in text, f"{part!r} not in:\n{text}"


# -- names, types and ranges: refused while building the run's spec, before the run directory
ARGUMENT_CASES = {
    "unknown-method": (
        [],
        {"method": "stomp"},
        ["unknown method 'stomp'", "Did you mean 'stompp'?", "Valid methods:", "ste, stompp"],
    ),
    "unknown-arch": (
        [],
        {"arch": "resnet19"},
        [
            "unknown architecture 'resnet19'",
            "Valid architectures:",
            "resnet18, resnet18_clip, resnet18_imagenet, resnet20",
        ],
    ),
    "unknown-dataset": (
        [],
        {"dataset": "cifar11"},
        ["unknown dataset 'cifar11'", "Did you mean 'cifar10'?", "Valid datasets:", "digits"],
    ),
    "unknown-ordering": (
        ["--ordering", "backward"],
        {},
        ["unknown ordering 'backward'", "valid orderings: forward, reverse, global, random"],
    ),
    "unknown-regime": (
        ["--regime", "ternary"],
        {},
        ["invalid choice: 'ternary'", "'bnn', 'bwn', 'fp'"],
    ),
    "regime-not-supported": (
        ["--regime", "bnn"],
        {"method": "fp"},
        ["method 'fp' runs in regime(s) fp, not 'bnn'", "use regime fp"],
    ),
    "ordering-without-method-ordering": (
        ["--ordering", "forward"],
        {"method": "ste"},
        ["method 'ste' has no ordering", "drop --ordering forward"],
    ),
    "unknown-hyperparameter": (
        ["--set", "warmup=3"],
        {},
        ["unknown hyperparameter(s) warmup", "valid:", "freeze_end"],
    ),
    "unknown-recipe-key": (
        ["--set", "recipe.lrr=0.1"],
        {},
        ["unknown recipe key(s) lrr", "valid:", "lr, momentum"],
    ),
    "set-without-value": (["--set", "freeze_end"], {}, ["--set expects KEY=VALUE, got 'freeze_end'"]),
    "negative-epochs": ([], {"epochs": "-1"}, ["recipe.epochs=-1 must be >= 1"]),
    "freeze-end-above-1": (
        ["--set", "freeze_end=1.5"],
        {},
        ["method 'stompp': freeze_end=1.5 must be in (0, 1]"],
    ),
    "refresh-below-0": (
        ["--set", "refresh=-1"],
        {},
        ["method 'stompp': refresh=-1 must be >= 0 (0 = never refresh)"],
    ),
    "string-for-float": (
        ["--set", "freeze_end=late"],
        {},
        ["method 'stompp': freeze_end='late' is not a valid float"],
    ),
    "string-for-recipe-number": (
        ["--set", "recipe.lr=fast"],
        {},
        ["recipe.lr='fast' is not a valid float"],
    ),
    "fraction-for-int": (
        ["--set", "refresh=2.5"],
        {},
        ["method 'stompp': refresh='2.5' is not a valid int"],
    ),
    "string-for-flag-number": ([], {"epochs": "many"}, ["argument --epochs: invalid int value: 'many'"]),
    "expression-as-value": (
        ["--set", "freeze_end=4/5"],
        {},
        ["method 'stompp': freeze_end='4/5' is not a valid float"],
    ),
    "negative-lr": (["--set", "recipe.lr=-0.1"], {}, ["recipe.lr=-0.1 must be > 0"]),
    "batch-size-0": (["--set", "recipe.batch_size=0"], {}, ["recipe.batch_size=0 must be >= 1"]),
    "width-0": ([], {"width": "0"}, ["width=0.0 must be > 0"]),
    "negative-seed": (["--seed", "-1"], {}, ["seed=-1 must be >= 0"]),
    "variant-with-space": (
        ["--variant", "my variant"],
        {},
        ["variant 'my variant' cannot name a run directory", "lower-case letters", "'my_variant'"],
    ),
    "variant-with-path": (
        ["--variant", "../x"],
        {},
        ["variant '../x' cannot name a run directory", "(for example 'x')"],
    ),
    "variant-dot-dot": (["--variant", ".."], {}, ["variant '..' cannot name a run directory"]),
    "variant-upper-case": (
        ["--variant", "MyVariant"],
        {},
        ["variant 'MyVariant' cannot name a run directory", "'myvariant'"],
    ),
    "recipe-upper-case": (
        ["--recipe", "Paper"],
        {},
        ["recipe 'Paper' cannot name a run directory", "'paper'"],
    ),
}


@pytest.mark.parametrize(("args", "flags", "expected"), ARGUMENT_CASES.values(), ids=ARGUMENT_CASES)
def test_bad_arguments_are_refused_before_the_run_directory_exists(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], flags: dict, expected: list[str]
) -> None:
    code, text = train_cli(capsys, tmp_path / "run", *args, **flags)
    assert_refused(code, text, *expected)
    assert not (tmp_path / "run").exists()


# -- datasets: refused after the run directory is made, before the model is built -----------
def _no_root(root: Path) -> Path:
    return root / "nowhere"


def _missing_file(root: Path) -> Path:
    write_cifar10(root)
    (root / "cifar-10-batches-py" / "test_batch").unlink()
    return root


def _truncated(root: Path) -> Path:
    write_cifar10(root)
    path = root / "cifar-10-batches-py" / "data_batch_3"
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    return root


def _wrong_shape(root: Path) -> Path:
    write_cifar10(root)
    images = np.zeros((10, 100), dtype=np.uint8)
    write_batch(root / "cifar-10-batches-py" / "data_batch_2", images, {b"labels": np.zeros(10, int)})
    return root


DATA_CASES = {
    "cifar-root-missing": (_no_root, ["data root", "nowhere", "is not a directory"]),
    "cifar-file-missing": (_missing_file, ["missing file(s):", "cifar-10-batches-py/test_batch"]),
    "cifar-file-truncated": (
        _truncated,
        ["cannot read", "cifar-10-batches-py/data_batch_3", "truncated"],
    ),
    "cifar-wrong-shape": (
        _wrong_shape,
        ["cifar-10-batches-py/data_batch_2", "must be a uint8 array [N, 3072]", "shape [10, 100]"],
    ),
}


@pytest.mark.parametrize(("make", "expected"), DATA_CASES.values(), ids=DATA_CASES)
def test_bad_cifar_files_name_the_file_and_the_expected_layout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Callable[[Path], Path], expected: list[str]
) -> None:
    root = make(tmp_path / "data")
    out = tmp_path / "run"
    code, text = train_cli(capsys, out, "--data-root", str(root), dataset="cifar10", method="ste")
    layout = "Expected layout:\n  " + str(root / "cifar-10-batches-py" / "data_batch_1")
    fix = "download cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html"
    assert_refused(code, text, *expected, layout, fix, "--data-root DIR", "BNNBENCH_DATA")
    assert not (out / "config.json").exists() and not (out / "metrics.csv").exists()


def _idx_wrong_magic(root: Path) -> Path:
    write_tree(root)
    write_idx(root / "fashion-mnist" / "t10k-images-idx3-ubyte.gz", np.zeros((20, 28, 28)), magic=0x801)
    return root


def _idx_count_mismatch(root: Path) -> Path:
    write_tree(root)
    write_idx(root / "fashion-mnist" / "train-labels-idx1-ubyte.gz", np.zeros(39, np.uint8))
    return root


def _idx_missing_file(root: Path) -> Path:
    write_tree(root)
    (root / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    return root


def _idx_label_out_of_range(root: Path) -> Path:
    write_tree(root)
    write_idx(root / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz", np.full(20, 10, np.uint8))
    return root


IDX_CASES = {
    "idx-wrong-magic": (
        _idx_wrong_magic,
        ["t10k-images-idx3-ubyte.gz has magic number 0x00000801, expected 0x00000803"],
    ),
    "idx-count-mismatch": (
        _idx_count_mismatch,
        ["holds 40 images but", "train-labels-idx1-ubyte.gz 39 labels"],
    ),
    "idx-file-missing": (_idx_missing_file, ["missing file(s):", "t10k-labels-idx1-ubyte[.gz]"]),
    "idx-label-out-of-range": (_idx_label_out_of_range, ["has label 10, outside [0, 10)"]),
}


@pytest.mark.parametrize(("make", "expected"), IDX_CASES.values(), ids=IDX_CASES)
def test_bad_idx_files_name_the_file_the_layout_and_how_to_get_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Callable[[Path], Path], expected: list[str]
) -> None:
    root = make(tmp_path / "data")
    out = tmp_path / "run"
    code, text = train_cli(capsys, out, "--data-root", str(root), dataset="fashion_mnist", method="ste")
    layout = f"Expected layout:\n  {root}/fashion-mnist/train-images-idx3-ubyte[.gz]"
    assert_refused(code, text, *expected, layout, "apt-get install dataset-fashion-mnist", "--data-root DIR")
    assert not (out / "config.json").exists() and not (out / "metrics.csv").exists()


# -- the run directory, the device ---------------------------------------------------------
def test_out_below_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A path whose parent is a regular file cannot be created, even by root (the tests run as
    root, for whom permission bits such as chmod 0o500 are not enforced)."""
    (tmp_path / "results").write_text("not a directory")
    code, text = train_cli(capsys, tmp_path / "results" / "run", method="ste")
    assert_refused(code, text, "cannot create the run directory", "results/run", "Not a directory")
    assert "choose a writable --out" in text


def test_out_without_write_permission_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """chmod 0o500 stops a regular user; root ignores the bits, so the permission check that a
    regular user would fail is simulated for this one directory."""
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    access = os.access

    def no_write_for_locked(path: os.PathLike[str] | str, mode: int, **kwargs: object) -> bool:
        if Path(path) == locked and mode & os.W_OK:
            return False
        return access(path, mode, **kwargs)

    monkeypatch.setattr(os, "access", no_write_for_locked)
    code, text = train_cli(capsys, locked, method="ste")
    assert_refused(code, text, f"the run directory {locked} is not writable", "choose a writable --out")
    assert list(locked.iterdir()) == []


def test_out_that_is_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "run").write_text("a file")
    code, text = train_cli(capsys, tmp_path / "run", method="ste")
    assert_refused(code, text, "cannot create the run directory", "choose a writable --out")
    assert (tmp_path / "run").read_text() == "a file"


def test_cuda_requested_without_cuda(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, text = train_cli(capsys, tmp_path / "run", "--device", "cuda", method="ste")
    assert_refused(code, text, "device 'cuda' requested but CUDA is not available", "use --device cpu")
    assert not (tmp_path / "run" / "metrics.csv").exists()


# -- a checkpoint written by another config ------------------------------------------------
def test_checkpoint_from_a_different_config_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stop a run right after its first checkpoint (a real SIGUSR1), then start it again with
    another hyperparameter: the resume is refused and the checkpoint is kept."""
    save = checkpoint.save

    def save_then_stop(path: Path, payload: dict) -> None:
        save(path, payload)
        signal.raise_signal(signal.SIGUSR1)  # the run checkpoints again at the next step and exits

    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        patch.setattr(checkpoint, "save", save_then_stop)
        code, text = train_cli(capsys, out, "--set", "freeze_end=0.8", "--checkpoint-steps", "1")
    assert code == checkpoint.EXIT_PREEMPTED, text
    written = (out / checkpoint.CHECKPOINT_NAME).read_bytes()
    code, text = train_cli(capsys, out, "--set", "freeze_end=0.5")
    assert_refused(code, text, "checkpoint", "different config", "--restart")
    assert (out / checkpoint.CHECKPOINT_NAME).read_bytes() == written
    assert not (out / "result.json").exists()


# -- workflow configs: the schema, then config_checks.check_config ----------------------------------
def smoke() -> dict:
    return configs.load(SMOKE)


def _rename_variant(config: dict, old: str, new: str) -> None:
    config["variants"][new] = config["variants"].pop(old)
    for section in grid.SECTIONS:
        for entry in config[section].values():
            for part in [entry, *entry.get("parts", [])]:
                if "variants" in part:
                    part["variants"] = [new if v == old else v for v in part["variants"]]


def _add_arch(config: dict, arch: str) -> None:
    config["archs"].append(arch)
    if isinstance(config["width"], dict):
        config["width"][arch] = 0.0625


CONFIG_CASES = {
    "config-unknown-method": (
        lambda c: c["variants"]["stompp"].update(method="stomp"),
        ["variants.stompp: unknown method 'stomp'", "Did you mean 'stompp'?", "Valid methods:"],
    ),
    "config-unknown-arch": (
        lambda c: _add_arch(c, "resnet19"),
        ["archs: unknown architecture 'resnet19'", "Valid architectures:", "resnet18"],
    ),
    "config-unknown-dataset": (
        lambda c: c["datasets"].append("cifar11"),
        ["datasets: unknown dataset 'cifar11'", "Valid datasets:", "cifar10"],
    ),
    "config-unknown-variant": (
        lambda c: c["tables"]["peers"].update(variants=["stomp"]),
        ["tables.peers.variants: ['stomp'] not declared in the top-level variants", "'stompp'"],
    ),
    "config-unknown-recipe": (
        lambda c: c.update(recipe="paper"),
        ["recipe: 'paper' is not in recipes (has [", "'smoke', 'smoke_bop', 'smoke_half'"],
    ),
    "config-bad-hyperparameter": (
        lambda c: c["variants"]["stompp"].update(set={"freeze_end": 2}),
        ["variants.stompp: method 'stompp': freeze_end=2.0 must be in (0, 1]"],
    ),
    "config-unknown-hyperparameter": (
        lambda c: c["variants"]["stompp"].update(set={"warmup": 3}),
        ["variants.stompp: method 'stompp': unknown hyperparameter(s) warmup", "valid:"],
    ),
    "config-variant-upper-case": (
        lambda c: _rename_variant(c, "stompp", "StoMPP"),
        ["variants.StoMPP: variant 'StoMPP' cannot name a run directory", "'stompp'"],
    ),
    "config-unknown-table": (
        lambda c: c["tables"].update(depth=c["tables"]["depth_scaling"]),
        ["tables.depth: unknown table 'depth'", "Did you mean 'depth_scaling'?", "Valid tables:"],
    ),
    "config-unknown-ordering": (
        lambda c: c["tables"]["ordering"].update(orderings=["sideways"]),
        ["'sideways'", "orderings"],
    ),
    "config-ordering-of-no-method": (
        lambda c: c.update(orderings=["forward", "sideways"]),
        ["orderings: ['sideways'] not an ordering of any method", "'forward', 'global', 'random', 'reverse'"],
    ),
}


@pytest.mark.parametrize(("edit", "expected"), CONFIG_CASES.values(), ids=CONFIG_CASES)
def test_inconsistent_workflow_config_is_refused(edit: Callable[[dict], None], expected: list[str]) -> None:
    config = smoke()
    edit(config)
    validate(copy.deepcopy(config), str(SCHEMA))  # the schema alone lets these through
    with pytest.raises(grid.ConfigError) as error:
        config_checks.check_config(config)  # what the Snakefile runs (with or without a cache stamp):
        config_checks.check_registries(config)  # the consistency checks, then the registry checks
    for part in expected:
        assert part in str(error.value), str(error.value)


SCHEMA_CASES = {
    "config-unknown-regime": (lambda c: c.update(regimes=["bnn", "ternary"]), ["'ternary'", "regimes"]),
    "config-negative-epochs": (
        lambda c: c["recipes"]["smoke"].update(epochs=-1),
        ["-1 is less than the minimum of 1", "epochs"],
    ),
    "config-string-for-number": (
        lambda c: c["recipes"]["smoke"].update(lr="fast"),
        ["'fast' is not of type 'number'", "lr"],
    ),
    "config-batch-size-0": (
        lambda c: c["recipes"]["smoke"].update(batch_size=0),
        ["0 is less than the minimum of 1", "batch_size"],
    ),
    "config-variant-with-space": (
        lambda c: _rename_variant(c, "stompp", "my variant"),
        ["'my variant' does not match", "variants"],
    ),
}


@pytest.mark.parametrize(("edit", "expected"), SCHEMA_CASES.values(), ids=SCHEMA_CASES)
def test_workflow_config_of_the_wrong_type_names_the_key(
    edit: Callable[[dict], None], expected: list[str]
) -> None:
    config = smoke()
    edit(config)
    with pytest.raises(WorkflowError) as error:
        validate(config, str(SCHEMA))
    for part in expected:
        assert part in str(error.value), str(error.value)


DRY_RUN_CASES = {
    "dry-run-unknown-method": (
        lambda c: c["variants"]["stompp"].update(method="stomp"),
        "variants.stompp: unknown method 'stomp'",
    ),
    "dry-run-bad-hyperparameter": (
        lambda c: c["variants"]["stompp"].update(set={"refresh": -1}),
        "variants.stompp: method 'stompp': refresh=-1 must be >= 0",
    ),
    "dry-run-derived-key": (
        lambda c: c.update(ordered_methods=["stompp", "stompp_ste"]),
        "ordered_methods: this key is no longer needed and no longer read",
    ),
}


@pytest.mark.workflow
@pytest.mark.parametrize(("edit", "expected"), DRY_RUN_CASES.values(), ids=DRY_RUN_CASES)
def test_snakemake_refuses_a_bad_config_before_any_job(
    tmp_path: Path, edit: Callable[[dict], None], expected: str
) -> None:
    config = smoke()
    edit(config)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--dry-run"]
    cmd += ["--directory", str(tmp_path / "work"), "--configfile", str(tmp_path / "config.yaml")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert expected in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (tmp_path / "work" / "results").exists()


# -- safety --------------------------------------------------------------------------------
@pytest.mark.parametrize("preset", [None, "0"])
def test_cli_is_offline_unless_the_user_says_otherwise(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], preset: str | None
) -> None:
    for key in OFFLINE_ENV:
        if preset is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, preset)
    assert main(["methods", "ste"]) == 0
    capsys.readouterr()
    assert {key: os.environ.get(key) for key in OFFLINE_ENV} == dict.fromkeys(
        ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"), preset or "1"
    )


def _unsafe_calls(path: Path) -> list[str]:
    """Calls that would run code from data: eval/exec, yaml.load/unsafe_load/full_load,
    pickle.load(s), and torch.load without ``weights_only=True``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        weights_only = any(
            k.arg == "weights_only" and isinstance(k.value, ast.Constant) and k.value.value is True
            for k in node.keywords
        )
        unsafe = name in ("eval", "exec", "pickle.load", "pickle.loads")
        unsafe |= name in ("yaml.load", "yaml.unsafe_load", "yaml.full_load")
        unsafe |= name == "torch.load" and not weights_only
        if unsafe:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
    return found


def test_no_data_is_ever_run_as_code() -> None:
    """Checkpoints load with weights_only=True, configs are parsed as data (yaml.safe_load,
    typed coercion of --set values: see the expression-as-value case), CIFAR pickles go
    through the allow-listing unpickler of benchmark/data/pickles.py."""
    sources = [ROOT / "noxfile.py", *ROOT.glob("benchmark/**/*.py"), *ROOT.glob("methods/**/*.py")]
    sources += ROOT.glob("tests/**/*.py")
    found = [call for path in sources for call in _unsafe_calls(path)]
    assert found == []


def cases_tested_elsewhere() -> list[str]:
    """Error cases whose tests live beside their feature (tests/test_imagenet.py, say): such a
    module lists its case ids as ``ERROR_CASES``."""
    found: list[str] = []
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        if path.name != Path(__file__).name and "\nERROR_CASES" in path.read_text():
            found += importlib.import_module(f"tests.{path.stem}").ERROR_CASES
    return found


def test_every_case_is_documented() -> None:
    """docs/ERRORS.md has a row for every case tested here or beside its feature (and the tests
    a case per row)."""
    doc = DOC.read_text()
    cases = [*ARGUMENT_CASES, *DATA_CASES, *IDX_CASES, *CONFIG_CASES, *SCHEMA_CASES, *DRY_RUN_CASES]
    cases += cases_tested_elsewhere()
    cases += ["out-below-a-file", "out-not-writable", "out-is-a-file", "cuda-unavailable"]
    cases += ["checkpoint-other-config"]
    missing = [case for case in cases if f"`{case}`" not in doc]
    assert missing == []
    documented = {line.split("`")[1] for line in doc.splitlines() if line.startswith("| `")}
    assert documented == set(cases)
