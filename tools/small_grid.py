"""The small grid: every rule of the workflow (train, every table, every figure, check) on 18
training runs instead of the smoke grid's 69.

The end-to-end tests train it once per session (``tests/workflow_grid.py``) and ``nox -s
slurm`` runs it through the SLURM profile: each job is a new process that spends seconds
importing torch (and, on SLURM, starting Snakemake twice), which is most of its cost, while
the smoke grid's other 51 runs add no rule, resource or path. The whole smoke grid runs in
``nox -s smoke``.
"""

from __future__ import annotations

from benchmark import configs

SMOKE = configs.CONFIG_DIR / "smoke.yaml"


def smoke() -> dict:
    return configs.load(SMOKE)


def small_grid() -> dict:
    """The smoke config narrowed to 18 runs: ResNet-18 (and BinaryNet for Bop's recipe), seed 0.

    Every table and figure of the smoke config keeps its name and form (a section recipe,
    parts with their own recipes); between them the runs still cover the fp regime, an
    ordering other than forward, a variant with ``set`` overrides, a section with more seeds
    than the top level and every recipe. The depth-scaling table is STE and StoMPP with two
    seeds: ``tests/test_integrity.py`` needs a second seed in both cells.
    """
    config = smoke()
    tables, figures = config["tables"], config["figures"]

    def one() -> dict:  # fresh lists: no YAML anchors in the written config
        return {
            "datasets": ["synthetic"],
            "orderings": ["forward"],
            "archs": ["resnet18"],
            "regimes": ["bnn"],
        }

    tables["depth_scaling"].update(one(), variants=["ste", "stompp"], seeds=[0, 1])
    # with the random-features control, which S2's laptop form reads (one run: no ordering)
    tables["ordering"].update(one(), variants=["stompp", "random_features"], orderings=["forward", "reverse"])
    tables["hybrids"].update(one(), variants=["ste", "stompp"], seeds=[0, 1])  # depth_scaling's runs
    tables["peers"].update(one(), variants=["fp", "ste", "stompp", "ovsw", "pabt"])
    full, _components, half = tables["ovsw"]["parts"]
    full.update(one(), variants=["fp", "ovsw_vanilla", "ovsw"])  # the baseline of O1 and O3
    half.update(one(), variants=["ovsw"])
    tables["ovsw"]["parts"] = [full, half]
    tables["bop"]["parts"][0].update(one(), variants=["bop"], archs=["binarynet"])
    tables["pabt"]["parts"][0].update(one(), variants=["fp", "pabt"], archs=["resnet20"])
    tables["architectures"].update(one(), variants=["ste", "stompp"], archs=["mobilenetv2"])
    tables["bireal"].update(one(), variants=["fp", "ste_ft"], archs=["bireal18"])  # fine-tuning
    figures["trajectories"].update(one(), variants=["ste", "stompp"])
    figures["silent_weights"].update(one(), variants=["ovsw_vanilla", "ovsw"])
    # the curves figures on runs the tables above train (no bwn run here: the fp line only)
    figures["curves_bwn"].update(one(), variants=["fp"])
    figures["curves_hybrids"].update(one(), variants=["fp", "ste", "stompp"])
    figures["curves_bireal"].update(one(), variants=["fp", "ste_ft"], archs=["bireal18"])
    figures["curves_pabt"].update(one(), variants=["pabt"], archs=["resnet20"])
    # the sweeps on runs the tables above train: one point each, the epoch sweep two recipes
    figures["sweep_schedule_refresh"].update(one(), variants=["stompp"])
    figures["sweep_masking"].update(one(), variants=["stompp"])
    figures["sweep_epochs"]["parts"] = [{"recipe": "smoke"}]
    figures["sweep_epochs"].update(one(), variants=["ste", "stompp"])
    figures["ovsw_sweeps"]["parts"] = [
        {"variants": ["ovsw_vanilla", "ovsw"]},
        {"recipe": "smoke_half", "variants": ["ovsw"]},
    ]
    figures["ovsw_sweeps"].update(one())
    return config
