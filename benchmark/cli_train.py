"""``bnnbench train``: one run from its command line (DESIGN 5).

The flags become a :class:`benchmark.spec.RunSpec` (:func:`spec_from_args`), which
``benchmark.train.train`` turns into a run directory. The workflow's train rule writes these
flags (``benchmark.job_args``); the rest of the command line is in ``benchmark.cli``.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

from benchmark.errors import UserError
from benchmark.runtime import CPU_ISAS, PLACEMENTS, PRECISIONS, Runtime


def add_train(sub: Any) -> None:
    p = sub.add_parser("train", help="train one run and write its run directory")
    p.add_argument("--dataset", required=True)
    p.add_argument("--arch", required=True)
    p.add_argument("--method", required=True)
    p.add_argument(
        "--variant", default="", help="variant name recorded in the identity (default: the method)"
    )
    p.add_argument(
        "--regime",
        default=None,
        choices=["bnn", "bwn", "fp"],
        help="default: bnn (fp for the fp method)",
    )
    p.add_argument(
        "--ordering",
        default=None,
        help="freezing order for methods that have one (default forward)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=None, help="shortcut for --set recipe.epochs=E")
    p.add_argument("--width", type=float, default=1.0, help="width multiplier of the architecture")
    p.add_argument(
        "--zero-init-residual",
        action="store_true",
        help="start every residual branch at zero (gamma = 0 in its last BatchNorm; Goyal et al. 2017); "
        "part of the run's config",
    )
    p.add_argument("--recipe", default="custom", help="the recipe's name, recorded in the identity")
    p.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a method hyperparameter (freeze_end=0.8) or recipe key (recipe.lr=0.05); repeatable",
    )
    p.add_argument("--data-root", default=None, help="dataset root (default: $BNNBENCH_DATA)")
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="data loader processes for datasets read from disk, such as imagenet (default 0)",
    )
    p.add_argument(
        "--model-dir",
        default=None,
        help="local tokenizer/model directory for text datasets (a copy of bert-base-uncased)",
    )
    p.add_argument(
        "--max-length", type=int, default=128, help="tokens per sentence for text datasets (default 128)"
    )
    p.add_argument(
        "--classes",
        type=int,
        default=None,
        help="use only the first N classes (imagenet, mnist, fashion_mnist; default all)",
    )
    p.add_argument(
        "--per-class",
        type=int,
        default=None,
        help="use only the first N train images of each class (imagenet, mnist, fashion_mnist; default all)",
    )
    p.add_argument(
        "--init-from",
        default=None,
        metavar="RUN_DIR_OR_FILE",
        help="start from a finished run's weights (its directory or model.pt) instead of from scratch",
    )
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:k]")
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="fp32",
        help="fp32 (default; no TF32 on CUDA), tf32 (CUDA matmuls/convolutions) or bf16 (autocast; "
        "BatchNorm and the loss in fp32); part of the run's config",
    )
    p.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="compile the model's forward with torch.compile (default off); part of the run's config",
    )
    p.add_argument(
        "--deterministic",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="deterministic CUDA: fixed cuBLAS workspace, no cuDNN autotuning (default on; "
        "--no-deterministic autotunes); part of the run's config",
    )
    p.add_argument(
        "--data-placement",
        choices=PLACEMENTS,
        default="auto",
        help="where in-memory training images live: host (copied per batch), device (moved once, "
        "augmented there) or auto (device on CUDA); the batches are the same either way",
    )
    p.add_argument(
        "--cpu-isa",
        choices=CPU_ISAS,
        default="native",
        help="CPU kernels: native (PyTorch's dispatch, the default) or avx2 (pinned; start the command "
        "with ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2); part of the run's config",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar or log lines")
    p.add_argument("--out", required=True, type=Path, help="the run directory to write")
    p.add_argument(
        "--checkpoint-seconds",
        type=float,
        default=300.0,
        help="write <out>/checkpoint.pt every S seconds of training (0: off; default 300)",
    )
    p.add_argument(
        "--checkpoint-steps",
        type=int,
        default=0,
        help="and/or every N optimizer steps (0: off, the default)",
    )
    p.add_argument(
        "--restart",
        action="store_true",
        help="delete <out>/checkpoint.pt and start over instead of resuming from it",
    )
    p.add_argument(
        "--eval-every",
        type=int,
        default=0,
        metavar="N",
        help="also evaluate the network as trained every N optimizer steps into <out>/evals.csv "
        "(0: off, the default; changes no number of the run and is not part of its config)",
    )
    p.add_argument(
        "--eval-subset",
        type=int,
        default=0,
        metavar="K",
        help="those evaluations read the first K test examples (0: the whole test split, the default)",
    )
    p.set_defaults(func=cmd_train)


def parse_sets(items: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Split ``KEY=VALUE`` items into (method overrides, recipe values)."""
    method_kv: dict[str, str] = {}
    recipe_kv: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--set expects KEY=VALUE, got '{item}'")
        if key.startswith("recipe."):
            recipe_kv[key.removeprefix("recipe.")] = value
        else:
            method_kv[key] = value
    return method_kv, recipe_kv


def spec_from_args(args: argparse.Namespace) -> Any:
    import methods
    from benchmark.data import DATASETS
    from benchmark.data.options import DataOptions
    from benchmark.models import ARCHS
    from benchmark.recipe import Recipe
    from benchmark.spec import RunSpec

    method_cls = methods.get_method(args.method)
    ARCHS.get(args.arch)
    DATASETS.get(args.dataset)
    method_kv, recipe_kv = parse_sets(args.sets)
    if args.epochs is not None:
        recipe_kv["epochs"] = str(args.epochs)
    recipe = Recipe.from_dict({"name": args.recipe, **recipe_kv})
    regime = args.regime or ("fp" if "fp" in method_cls.regimes else "bnn")
    return RunSpec(
        dataset=args.dataset,
        arch=args.arch,
        method=args.method,
        regime=regime,
        seed=args.seed,
        recipe=recipe,
        variant=args.variant,
        ordering=run_ordering(args.ordering, method_kv, method_cls.orderings),
        width=args.width,
        zero_init_residual=args.zero_init_residual,
        method_overrides=method_kv,
        data_options=DataOptions(
            workers=args.workers,
            model_dir=args.model_dir,
            max_length=args.max_length,
            classes=args.classes,
            per_class=args.per_class,
        ),
        init_from=args.init_from,
        data_root=args.data_root,
        threads=args.threads,
        device=args.device,
        runtime=Runtime(
            precision=args.precision,
            compile=args.compile,
            deterministic=args.deterministic,
            data=args.data_placement,
            cpu_isa=args.cpu_isa,
        ),
    )


def run_ordering(given: str | None, method_kv: dict[str, str], orderings: tuple[str, ...]) -> str:
    """The run's ordering: ``--ordering``, or ``--set ordering=...`` (the same thing, for a method
    with orderings), else the method's first ordering (``none`` for a method without one)."""
    if orderings and "ordering" in method_kv:
        alias = method_kv.pop("ordering")
        if given not in (None, alias):
            raise UserError(f"--ordering {given} and --set ordering={alias} disagree; give one of them")
        given = alias
    return given or (orderings[0] if orderings else "none")


def cmd_train(args: argparse.Namespace) -> int:
    from benchmark.checkpoint import EXIT_PREEMPTED, Policy, Preempted
    from benchmark.evals import Plan
    from benchmark.train import train

    spec = spec_from_args(args)
    policy = Policy(seconds=args.checkpoint_seconds, steps=args.checkpoint_steps)
    plan = Plan(every=args.eval_every, subset=args.eval_subset)
    try:
        result = train(
            spec,
            args.out,
            show_progress=not args.no_progress,
            policy=policy,
            restart=args.restart,
            eval_plan=plan,
        )
    except Preempted as stop:
        print(f"{signal.Signals(stop.signum).name}: {stop} ({stop.path})", file=sys.stderr, flush=True)
        return EXIT_PREEMPTED
    if not result:  # a data-parallel rank other than 0: rank 0 reports
        return 0
    print(
        f"{result['status']}: test_acc={result['test_acc']:.2f} "
        f"as_trained={result['test_acc_as_trained']:.2f} -> {args.out}"
    )
    return 0
