"""The prepared device check (``nox -s gpu``; issue 12): one command, about 5-8 minutes on one
GPU, that says whether the training path works there and how fast it is.

Parts, each recorded in the JSON written to ``--out``:

1. ``methods``: every registered method trains one epoch of CIFAR-shaped data (random uint8
   images in the CIFAR-10 python format, 1,024 train / 512 test) at width 1, batch 128; its
   loss must be finite and its evaluated network binary (BOPs counted, ``result.json``'s
   accounting).
2. ``agreement``: the same short run on the CPU and on the GPU (fp32, deterministic): ``fp``
   must agree within :data:`LOSS_TOLERANCE` in train loss and :data:`ACC_TOLERANCE` points in
   test accuracy; ``ste``'s differences are recorded (a sign flip amplifies any rounding).
3. ``resume``: a StoMPP run stopped by a real SIGTERM mid-epoch on the GPU, started again,
   must end with the records of an uninterrupted run.
4. ``throughput``: images per second of training steps, ResNet-18 and ResNet-50 (CIFAR, width 1,
   batch 128), for ``ste``, ``stompp`` and ``ovsw``: host vs device data in fp32, then device
   data in tf32 and bf16, and bf16 compiled for ``ste``; with the projected minutes of a
   200-epoch CIFAR-10 ResNet-18 ``ste`` run. ``--throughput`` also writes these as the
   planner's measured table (``workflows/throughput.json``).

Without CUDA it says so in one line and exits 0. ``--cpu-dry-run`` runs every part on the
CPU at toy sizes (width 1/16, a few steps, compile off): what can be checked without a GPU.
Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

import methods  # noqa: E402
from benchmark import checkpoint, records, runtime  # noqa: E402
from benchmark import train as train_module  # noqa: E402
from benchmark.data import load_dataset  # noqa: E402
from benchmark.recipe import Recipe  # noqa: E402
from benchmark.runtime import Runtime  # noqa: E402
from benchmark.spec import RunSpec  # noqa: E402
from methods.routing import optimizers_for  # noqa: E402
from methods.step import training_step  # noqa: E402
from tests.cifar_files import write_cifar10  # noqa: E402
from tests.test_resume import assert_same_records  # noqa: E402

LOSS_TOLERANCE = 1e-3  # absolute, mean train loss of the epoch (about 2.3 on random labels)
ACC_TOLERANCE = 1.0  # points of test accuracy
PAPER_EPOCHS, CIFAR_TRAIN = 200, 50_000  # the projection: a 200-epoch CIFAR-10 run


@dataclasses.dataclass(frozen=True)
class Scale:
    """The sizes of one check: the GPU's, or the CPU dry run's toys."""

    device: str
    width: float
    batch: int
    train_per_batch_file: int  # CIFAR-10 has 5 train files
    test: int
    warmup: int
    timed: int
    compile: bool


GPU = Scale("cuda", 1.0, 128, 1024 // 5 + 1, 512, warmup=5, timed=20, compile=True)
DRY = Scale("cpu", 0.0625, 32, 64 // 5 + 1, 64, warmup=1, timed=2, compile=False)


def spec(
    scale: Scale, root: Path, method: str, *, device: str | None = None, epochs: int = 1, **settings: Any
) -> RunSpec:
    cls = methods.get_method(method)
    regime = "bnn" if "bnn" in cls.regimes else cls.regimes[0]
    return RunSpec(
        dataset="cifar10",
        arch=settings.pop("arch", "resnet18"),
        method=method,
        regime=regime,
        seed=0,
        recipe=Recipe(name="gpu_check", epochs=epochs, batch_size=scale.batch, lr=0.05),
        ordering="forward" if cls.has_ordering else "none",
        width=scale.width,
        data_root=str(root),
        device=device or scale.device,
        runtime=Runtime(**settings),
    )


def check_methods(scale: Scale, root: Path, work: Path) -> dict[str, Any]:
    rows = {}
    for name in methods.method_names():
        start = time.monotonic()
        result = train_module.train(spec(scale, root, name), work / f"method_{name}", show_progress=False)
        binary = name == "fp" or result["accounting"]["bops"] > 0
        finite = math.isfinite(result["train_loss"])
        rows[name] = {
            "ok": result["status"] == "ok" and finite and binary,
            "train_loss": result["train_loss"],
            "test_acc": result["test_acc"],
            "bops": result["accounting"]["bops"],
            "seconds": time.monotonic() - start,
        }
    return {"ok": all(r["ok"] for r in rows.values()), "runs": rows}


def check_agreement(scale: Scale, root: Path, work: Path) -> dict[str, Any]:
    rows = {}
    for name in ("fp", "ste"):
        a = train_module.train(
            spec(scale, root, name, device="cpu"), work / f"cpu_{name}", show_progress=False
        )
        b = train_module.train(spec(scale, root, name), work / f"dev_{name}", show_progress=False)
        rows[name] = {
            "cpu": {"train_loss": a["train_loss"], "test_acc": a["test_acc"]},
            "device": {"train_loss": b["train_loss"], "test_acc": b["test_acc"]},
            "loss_diff": abs(a["train_loss"] - b["train_loss"]),
            "acc_diff": abs(a["test_acc"] - b["test_acc"]),
        }
    fp = rows["fp"]
    ok = fp["loss_diff"] <= LOSS_TOLERANCE and fp["acc_diff"] <= ACC_TOLERANCE
    return {"ok": ok, "tolerance": {"loss": LOSS_TOLERANCE, "acc_points": ACC_TOLERANCE}, "runs": rows}


def check_resume(scale: Scale, root: Path, work: Path) -> dict[str, Any]:
    run = spec(scale, root, "stompp", epochs=2)
    train_module.train(run, work / "whole", show_progress=False)
    steps = (5 * scale.train_per_batch_file) // scale.batch
    stop_after = steps + max(1, steps // 2)  # mid-way through the second epoch
    original = train_module.Saver.at_step_boundary

    def boundary(self: train_module.Saver, at: int, stepped: bool) -> None:
        if stepped and at == stop_after:
            signal.raise_signal(signal.SIGTERM)
        original(self, at, stepped)

    train_module.Saver.at_step_boundary = boundary  # type: ignore[method-assign]
    try:
        train_module.train(run, work / "stopped", show_progress=False)
        return {"ok": False, "error": "the run did not stop on SIGTERM"}
    except checkpoint.Preempted:
        pass
    finally:
        train_module.Saver.at_step_boundary = original  # type: ignore[method-assign]
    train_module.train(run, work / "stopped", show_progress=False)
    try:
        assert_same_records(work / "whole", work / "stopped")
    except AssertionError as err:
        return {"ok": False, "stopped_after": stop_after, "error": str(err)[:500]}
    return {"ok": True, "stopped_after": stop_after}


def images_per_second(
    scale: Scale, root: Path, arch: str, method: str, placement: str, **settings: Any
) -> float:
    """Training steps of ``method`` on ``arch`` as the trainer takes them (its model, method,
    optimizers and data path), timed after warm-up (and compilation)."""
    run = spec(scale, root, method, arch=arch, data=placement, **settings)
    device = train_module.resolve_device(run.device)
    train_module.configure_torch(run, device)
    data = load_dataset(run.dataset, Path(root))
    on_device = run.runtime.data_on_device(device, in_memory=True)
    data = data.to(device) if on_device else data
    model, method_obj = train_module.build(run, data, train_module.make_method(run), device)
    optimizers = optimizers_for(method_obj, model, run.recipe.build_optimizer)
    total = scale.warmup + scale.timed
    method_obj.setup(total, device)
    layout = train_module.memory_format(model)
    amp = runtime.autocast(run.runtime, device)
    gen = torch.Generator().manual_seed(0)
    batches = iter(())
    times: list[float] = []
    for step in range(total):
        start = time.perf_counter()
        batch = next(batches, None)
        if batch is None:
            batches = data.batches("train", scale.batch, generator=gen, augment=True, drop_last=True)
            batch = next(batches)
        x, y = train_module.to_device(batch[0], device, layout), batch[1].to(device)
        training_step(model, method_obj, optimizers, x, y, step, autocast=amp)
        synchronize(device)
        times.append(time.perf_counter() - start)
    timed = times[scale.warmup :]
    return scale.batch * len(timed) / sum(timed)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_throughput(scale: Scale, root: Path) -> dict[str, Any]:
    settings: list[tuple[str, str, dict[str, Any]]] = [
        ("fp32_host", "host", {"precision": "fp32"}),
        ("fp32", "device", {"precision": "fp32"}),
        ("tf32", "device", {"precision": "tf32"}),
        ("bf16", "device", {"precision": "bf16"}),
    ]
    table: dict[str, dict[str, dict[str, float]]] = {}
    for arch in ("resnet18", "resnet50"):
        for method in ("ste", "stompp", "ovsw"):
            row = table.setdefault(arch, {}).setdefault(method, {})
            extra = [
                ("bf16_compile", "device", {"precision": "bf16", "compile": True, "deterministic": False})
            ]
            for key, placement, kw in settings + (extra if method == "ste" and scale.compile else []):
                start = time.monotonic()
                row[key] = images_per_second(scale, root, arch, method, placement, **kw)
                print(
                    f"  {arch} {method} {key}: {row[key]:,.0f} images/s ({time.monotonic() - start:.0f} s)",
                    flush=True,
                )
    ste18 = table["resnet18"]["ste"]
    projection = {key: PAPER_EPOCHS * CIFAR_TRAIN / value / 60 for key, value in ste18.items() if value > 0}
    return {"images_per_second": table, "resnet18_ste_200_epochs_minutes": projection}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "gpu_check.json")
    parser.add_argument("--throughput", type=Path, default=None, help="also write the planner's table here")
    parser.add_argument("--cpu-dry-run", action="store_true", help="every part on the CPU at toy sizes")
    parser.add_argument("--parts", nargs="*", default=["methods", "agreement", "resume", "throughput"])
    args = parser.parse_args(argv)
    if not args.cpu_dry_run and not torch.cuda.is_available():
        print("gpu check: no CUDA device here, nothing run (on a GPU machine: nox -s gpu)")
        return 0
    scale = DRY if args.cpu_dry_run else GPU
    report: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "device": torch.cuda.get_device_name() if scale.device == "cuda" else records.cpu_model(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "dry_run": args.cpu_dry_run,
        "scale": dataclasses.asdict(scale),
    }
    parts: dict[str, Callable[..., dict[str, Any]]] = {
        "methods": check_methods,
        "agreement": check_agreement,
        "resume": check_resume,
    }
    with tempfile.TemporaryDirectory(prefix="bnnbench-gpu-") as tmp:
        root, work = Path(tmp) / "data", Path(tmp) / "runs"
        write_cifar10(root, per_batch=scale.train_per_batch_file, test_size=scale.test)
        for name in args.parts:
            start = time.monotonic()
            print(f"gpu check: {name} ...", flush=True)
            if name == "throughput":
                report[name] = measure_throughput(scale, root)
            else:
                report[name] = parts[name](scale, root, work)
            report[name]["seconds"] = time.monotonic() - start
            status = "" if name == "throughput" else (" ok" if report[name]["ok"] else " FAILED")
            print(f"gpu check: {name}{status} ({report[name]['seconds']:.0f} s)", flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(report, indent=2) + "\n")
    if args.throughput is not None and "throughput" in report:
        write_throughput(args.throughput, report)
    failed = [n for n in args.parts if n != "throughput" and not report[n]["ok"]]
    print(f"gpu check: {'FAILED ' + ', '.join(failed) if failed else 'all ok'} -> {args.out}")
    return 1 if failed else 0


def write_throughput(path: Path, report: dict[str, Any]) -> None:
    """The planner's table (``benchmark.plan``): measured images/s per arch, method, precision."""
    table = report["throughput"]["images_per_second"]
    body = {
        "schema": 1,
        "source": "measured" if not report["dry_run"] else "cpu dry run",
        "date": report["date"],
        "device": report["device"],
        "torch": report["torch"],
        "batch_size": report["scale"]["batch"],
        "width": report["scale"]["width"],
        "images_per_second": {
            arch: {m: {k: v for k, v in row.items() if k != "fp32_host"} for m, row in by_method.items()}
            for arch, by_method in table.items()
        },
    }
    path.write_text(json.dumps(body, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
