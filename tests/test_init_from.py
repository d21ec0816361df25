"""A finished run keeps its weights (``model.pt``), and ``--init-from`` starts a run from them
(``benchmark.weights``): exactly the saved weights are loaded, the first evaluation of the
loaded network is recorded, and a file that does not fit is refused with its keys named."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

from benchmark import weights
from benchmark.cli import main
from benchmark.data import Inputs
from benchmark.errors import UserError
from benchmark.models import build_model

BASE = ["--dataset", "synthetic", "--arch", "resnet18", "--width", "0.0625", "--epochs", "1"]
SETTINGS = ["--threads", "1", "--no-progress", "--checkpoint-seconds", "0", "--set", "recipe.batch_size=64"]

ERROR_CASES = ["init-from-no-weights", "init-from-other-arch", "init-from-not-weights"]


def train(out: Path, *args: str) -> dict:
    assert main(["train", *BASE, *SETTINGS, *args, "--out", str(out)]) == 0
    return json.loads((out / "result.json").read_text())


@pytest.fixture(scope="module")
def fp_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fp")
    train(out, "--method", "fp")
    return out


def test_a_finished_run_keeps_weights_that_load_safely(fp_run: Path) -> None:
    payload = torch.load(fp_run / "model.pt", map_location="cpu", weights_only=True)
    assert (payload["format"], payload["arch"], payload["width"]) == (1, "resnet18", 0.0625)
    assert payload["identity"]["variant"] == "fp"
    model = build_model("resnet18", Inputs.image(3, 16), 10, 0.0625)
    assert set(payload["state_dict"]) == set(model.state_dict())


def test_the_same_weights_give_the_same_bytes_wherever_they_are_written(tmp_path: Path) -> None:
    """The SHA-256 a fine-tuned run records must not depend on the file's (temporary) name."""
    model = build_model("resnet18", Inputs.image(3, 16), 10, 0.0625)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        weights.save(tmp_path / name / "model.pt", model, "resnet18", 0.0625, {"seed": 0})
    assert (tmp_path / "a" / "model.pt").read_bytes() == (tmp_path / "b" / "model.pt").read_bytes()
    assert weights.digest(tmp_path / "a" / "model.pt") == weights.digest(tmp_path / "b" / "model.pt")


def test_init_from_loads_exactly_the_saved_weights(fp_run: Path) -> None:
    model = build_model("resnet18", Inputs.image(3, 16), 10, 0.0625)
    weights.load_into(model, weights.resolve(fp_run), "resnet18")
    saved = torch.load(fp_run / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())


def test_the_first_evaluation_is_the_loaded_network(fp_run: Path, tmp_path: Path) -> None:
    """A fine-tuned run records the test accuracy of the network it loaded, which is the
    source fp run's final accuracy, and its config names the weights by their SHA-256."""
    source = json.loads((fp_run / "result.json").read_text())
    result = train(tmp_path / "ft", "--method", "ste", "--init-from", str(fp_run))
    assert result["init"]["test_acc"] == source["test_acc"]
    assert result["init"]["source"]["variant"] == "fp"
    digest = hashlib.sha256((fp_run / "model.pt").read_bytes()).hexdigest()
    config = json.loads((tmp_path / "ft" / "config.json").read_text())
    assert config["init_sha256"] == result["init"]["sha256"] == digest


def test_a_binary_runs_weights_initialise_a_float_model(tmp_path: Path) -> None:
    """A StoMPP run's file holds its quantizers' state too; a float model takes the rest."""
    train(tmp_path / "stompp", "--method", "stompp")
    saved = torch.load(tmp_path / "stompp" / "model.pt", weights_only=True)["state_dict"]
    model = build_model("resnet18", Inputs.image(3, 16), 10, 0.0625)
    weights.load_into(model, tmp_path / "stompp" / "model.pt", "resnet18")
    assert torch.equal(model.state_dict()["layer1.0.conv1.weight"], saved["layer1.0.conv1.weight"])


def test_error_init_from_no_weights(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"no weights at .*model\.pt; give a finished run's directory"):
        weights.resolve(tmp_path)


def test_error_init_from_other_arch(fp_run: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    args = ["train", *BASE, *SETTINGS, "--method", "ste", "--arch", "resnet20", "--init-from", str(fp_run)]
    assert main([*args, "--out", str(tmp_path / "r20")]) == 2
    err = capsys.readouterr().err
    assert "its weights (architecture 'resnet18', width 0.0625) do not fit this run's 'resnet20'" in err
    assert "missing 41 key(s): layer1.2.conv1.weight, " in err
    assert "unexpected 42 key(s): layer2.0.shortcut.0.weight, " in err
    assert "shape 66 key(s): conv1.weight (file [4, 3, 3, 3], model [1, 3, 3, 3])" in err
    assert "Traceback" not in err and not (tmp_path / "r20" / "metrics.csv").exists()


def test_error_init_from_not_weights(tmp_path: Path) -> None:
    (tmp_path / "model.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match=r"cannot read .*model\.pt as weights"):
        weights.read(tmp_path / "model.pt")
