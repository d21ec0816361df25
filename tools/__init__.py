"""Developer tooling that nox drives (not part of the installed package): a throwaway
one-node SLURM cluster (``local_slurm``) and the checks of a workflow run through the SLURM
profile (``slurm_checks``), used by ``nox -s slurm`` and by ``tests/test_slurm_profile.py``."""
