"""Shared test settings: one torch thread (CI has 2 cores shared with other work)."""

import torch

torch.set_num_threads(1)
