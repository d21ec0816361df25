"""The ``bnnbench`` command line: train one run, list methods, summarise a model, build tables,
figures and the regression report, and benchmark step times (``train``'s flags and command:
``benchmark.cli_train``)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmark import warm
from benchmark.cli_train import add_train
from benchmark.errors import UserError
from methods.config import ConfigError
from methods.registry import UnknownNameError

# No network at run time (DESIGN 9): Hugging Face libraries read only local files and caches
# unless the user explicitly set these variables.
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def main(argv: Sequence[str] | None = None) -> int:
    status = warm_start(list(sys.argv[1:] if argv is None else argv))
    if status is not None:
        return status
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UserError, UnknownNameError, ConfigError) as err:
        print(f"bnnbench {args.command}: error: {err}", file=sys.stderr)
        return 2


def warm_start(argv: list[str]) -> int | None:
    """A ``train`` of a local Snakemake run, forked from its warm-start server when it has one
    (``benchmark.warm``); None: run here."""
    name = os.environ.get(warm.ENV)
    return warm.delegate(name, argv) if name and argv[:1] == ["train"] else None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bnnbench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    add_train(sub)
    add_methods(sub)
    add_summary(sub)
    add_table(sub)
    add_figure(sub)
    add_check(sub)
    add_verdicts(sub)
    add_bench(sub)
    add_plan(sub)
    return parser


# -- methods / summary -------------------------------------------------------------------
def add_methods(sub: Any) -> None:
    p = sub.add_parser("methods", help="list methods with their hyperparameters, defaults and sources")
    p.add_argument("pattern", nargs="?", default="*", help="wildcard filter, e.g. 'stompp*'")
    p.set_defaults(func=cmd_methods)


def cmd_methods(args: argparse.Namespace) -> int:
    from benchmark.describe import describe_methods

    print(describe_methods(args.pattern))
    return 0


def add_summary(sub: Any) -> None:
    p = sub.add_parser("summary", help="per layer: what is binary, parameters, share of binary MACs")
    p.add_argument("--arch", required=True)
    p.add_argument("--method", required=True)
    p.add_argument("--regime", default=None, choices=["bnn", "bwn", "fp"])
    p.add_argument("--dataset", default="digits", help="gives input channels, size and classes")
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--data-root", default=None)
    p.set_defaults(func=cmd_summary)


def cmd_summary(args: argparse.Namespace) -> int:
    from benchmark.describe import summarize_model

    print(summarize_model(args.arch, args.method, args.regime, args.dataset, args.width, args.data_root))
    return 0


# -- tables, figures, report -------------------------------------------------------------
class OutputParser(argparse.ArgumentParser):
    """The parser of ``bnnbench table`` or ``figure``. Its epilog, the registered names, is read
    from ``benchmark.outputs`` only when the help is shown: that module imports pandas, SciPy and
    matplotlib (about 2 s), which ``bnnbench train`` never needs and every run would pay."""

    kind = ""

    def format_help(self) -> str:
        from benchmark.outputs import listing

        self.epilog = f"{self.kind}s:\n{listing(self.kind)}"
        return super().format_help()


def add_output(sub: Any, kind: str, help: str) -> argparse.ArgumentParser:
    """The parser of ``bnnbench table`` or ``figure``: a registered name (listed in the help)
    and the runs it is made from."""
    p = sub.add_parser(kind, help=help, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.__class__ = OutputParser  # argparse builds every subparser with one class
    p.kind = kind
    p.add_argument("name", help=f"a registered {kind} (listed below)")
    p.add_argument(
        "--runs", nargs="*", default=[], type=Path, help="result.json files (missing ones are NOT RUN)"
    )
    return p


def add_table(sub: Any) -> None:
    p = add_output(sub, "table", "aggregate run records into one of the paper's tables")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument(
        "--reported",
        nargs="+",
        type=Path,
        default=None,
        help="paper/reported/<paper>.csv file(s): the papers' numbers shown beside the cells",
    )
    p.add_argument("--tables-dir", type=Path, default=None, help="also write Markdown and LaTeX here")
    p.set_defaults(func=cmd_table)


def cmd_table(args: argparse.Namespace) -> int:
    from benchmark.reporting import build_table

    table = build_table(args.name, args.runs, args.out, args.reported, args.tables_dir)
    print(f"wrote {args.out} ({len(table)} rows)")
    return 0


def add_figure(sub: Any) -> None:
    p = add_output(sub, "figure", "draw a paper figure from run records")
    p.add_argument("--out", required=True, type=Path, help="output stem (writes .pdf and .png)")
    p.add_argument("--figures-dir", type=Path, default=None)
    p.add_argument(
        "--recipe",
        default=None,
        help="the config section's recipe: a sweep's panels without a recipe axis read only its runs",
    )
    p.set_defaults(func=cmd_figure)


def cmd_figure(args: argparse.Namespace) -> int:
    from benchmark.reporting import build_figure

    build_figure(args.name, args.runs, args.out, args.figures_dir, recipe=args.recipe)
    print(f"wrote {args.out}.pdf and {args.out}.png")
    return 0


def add_check(sub: Any) -> None:
    p = sub.add_parser("check", help="regression report: reported numbers and claims vs the tables")
    p.add_argument("--results-dir", type=Path, default=Path("results"))
    p.add_argument(
        "--reported",
        nargs="+",
        type=Path,
        default=[Path(f"paper/reported/{paper}.csv") for paper in ("stompp", "ovsw", "bop", "pabt")],
        help="paper/reported/<paper>.csv file(s) (default: the four papers')",
    )
    p.add_argument("--claims", type=Path, default=Path("paper/claims.yaml"))
    p.add_argument("--out", type=Path, default=Path("results/regression_report"))
    p.add_argument(
        "--config",
        nargs="*",
        type=Path,
        default=None,
        metavar="YAML",
        help="the workflow config (overlays on the default, as --configfile; no file: the default) "
        "whose grid tells cells not in it (NOT RUN) from cells whose runs under "
        "<results-dir>/runs have not finished (PENDING); without --config none is PENDING",
    )
    p.set_defaults(func=cmd_check)


def cmd_check(args: argparse.Namespace) -> int:
    from benchmark.reporting import run_check

    report = run_check(args.results_dir, args.reported, args.claims, args.out, args.config)
    counts = report["verdict"].value_counts().to_dict() if len(report) else {}
    print(f"wrote {args.out}.csv and .md: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 0


def add_verdicts(sub: Any) -> None:
    p = sub.add_parser(
        "verdicts",
        help="the claim verdicts of two regression reports side by side (e.g. two kernel sets)",
        description="Per claim scope, the verdicts and half-widths of two regression reports "
        "(bnnbench check's CSV; for a scope not settled, the seeds_needed to settle it) and "
        "whether they agree; per report, which claims are decided on "
        "every scope and which undecided ones are resolved to under --resolution points.",
    )
    p.add_argument("reports", nargs=2, type=Path, metavar="REPORT_CSV")
    p.add_argument("--labels", nargs=2, default=["A", "B"], metavar=("A", "B"))
    p.add_argument("--resolution", type=float, default=2.0, help="points (issue 13: 2.0)")
    p.add_argument("--out", type=Path, default=None, help="also write the Markdown here")
    p.set_defaults(func=cmd_verdicts)


def cmd_verdicts(args: argparse.Namespace) -> int:
    from benchmark import verdicts

    for path in args.reports:
        if not path.is_file():
            raise UserError(f"{path}: no such report; bnnbench check --out writes <out>.csv")
    a, b = (verdicts.read_claims(path) for path in args.reports)
    text = verdicts.format_markdown(a, b, tuple(args.labels), args.resolution)
    print(text, end="")
    if args.out is not None:
        args.out.write_text(text)
    return 0


# -- bench -------------------------------------------------------------------------------
def add_bench(sub: Any) -> None:
    p = sub.add_parser(
        "bench",
        help="median training-step time of each method relative to ste",
        description="Median training-step time of each method relative to ste, on one seeded random "
        "batch of the inputs the architecture takes: images for an image architecture, token ids for "
        "a text one (bert_tiny, bert_base).",
    )
    p.add_argument("--arch", default="resnet18", help="a registered architecture, image or text")
    p.add_argument("--width", type=float, default=0.25)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--image-size", type=int, default=32, help="image side S (image architectures)")
    p.add_argument("--seq-len", type=int, default=64, help="tokens per sentence (text architectures)")
    p.add_argument("--vocab-size", type=int, default=1000, help="token-id vocabulary (text architectures)")
    p.add_argument("--steps", type=int, default=30, help="timed steps per method")
    p.add_argument(
        "--methods", nargs="+", default=None, help="methods to time (default: every registered method)"
    )
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default="auto")
    p.add_argument(
        "--data-share",
        action="store_true",
        help="instead: the share of each step spent assembling its batch (CIFAR-shaped uint8 images, "
        "crop, flip, normalise), images on the host vs on the device, for the first of --methods",
    )
    p.set_defaults(func=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> int:
    import torch

    from benchmark.bench import describe_batch, format_bench, run_bench

    if args.data_share:
        return bench_data_share(args)
    batch = describe_batch(args.arch, args.batch_size, args.image_size, args.seq_len, args.vocab_size)
    medians = run_bench(
        args.arch,
        width=args.width,
        batch_size=args.batch_size,
        image_size=args.image_size,
        seq_len=args.seq_len,
        vocab_size=args.vocab_size,
        steps=args.steps,
        names=args.methods,
        threads=args.threads,
        device_name=args.device,
    )
    threads = torch.get_num_threads()
    print(f"{args.arch} (width {args.width}), {batch}, {args.steps} timed steps, {threads} threads")
    print(format_bench(medians))
    return 0


def bench_data_share(args: argparse.Namespace) -> int:
    import torch

    from benchmark.bench_data import assembly_share, format_shares
    from benchmark.train import resolve_device

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    method = (args.methods or ["ste"])[0]
    rows = [
        assembly_share(args.arch, method, args.width, args.batch_size, args.steps, device, placement)
        for placement in ("host", "device")
    ]
    print(
        f"{args.arch} (width {args.width}), {method}, batch {args.batch_size} of 3x32x32 uint8 images, "
        f"{args.steps} timed steps, {device}, {torch.get_num_threads()} threads"
    )
    print(format_shares(rows))
    return 0


# -- plan --------------------------------------------------------------------------------
def add_plan(sub: Any) -> None:
    p = sub.add_parser(
        "plan",
        help="per table and figure: runs, GPU-hours and the SLURM requests of a workflow config",
        description="The cost of a workflow config (the default, with --configfile overlays laid over "
        "it as Snakemake does): per table and figure its runs, the GPU-hours they need at the "
        "throughput table's images per second (measured by nox -s gpu, else estimated from "
        "multiply-accumulates), and what the SLURM profile requests for each job.",
    )
    p.add_argument("--configfile", nargs="*", default=[], type=Path, help="config overlays, in order")
    p.add_argument("--throughput", type=Path, default=None, help="default: workflows/throughput.json")
    p.add_argument("--json", type=Path, default=None, help="also write the plan here")
    p.set_defaults(func=cmd_plan)


def cmd_plan(args: argparse.Namespace) -> int:
    import json

    from benchmark import configs, plan

    config = configs.load(*args.configfile)
    table = plan.Throughput.read(args.throughput or plan.THROUGHPUT)
    result = plan.plan_config(config, table)
    print(plan.format_plan(result, table))
    if args.json is not None:
        body = {k: v for k, v in result.items() if k != "costs"}
        args.json.write_text(json.dumps(body, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
