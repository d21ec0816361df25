"""How a run executes on its device: numeric precision, compilation, determinism, and where the
training images live. Each is a recorded choice (DESIGN 9).

``precision``:
  - ``fp32``: every op in float32; on CUDA, TF32 is switched off for matmuls and cuDNN
    convolutions, so GPU numbers are comparable with CPU ones (the default).
  - ``tf32``: float32 storage, TF32 tensor-core matmuls and convolutions on CUDA (a 10-bit
    mantissa in the products). No effect on CPU.
  - ``bf16``: the forward pass under ``torch.autocast(dtype=torch.bfloat16)``; BatchNorm runs in
    float32 on float32 inputs, and the loss is computed in float32 from float32 logits. Weights,
    gradients and optimizer states stay float32 (mixed precision: Micikevicius et al. 2018,
    "Mixed Precision Training"; bfloat16 needs no loss scaling).
``compile``: the model's forward compiled with ``torch.compile`` (``nn.Module.compile``: the
  module and its ``state_dict`` keys stay the same).
``processes``: the number of data-parallel processes (ranks) the run trains on
  (``benchmark.distributed``); not a config key: ``torchrun`` sets it (``WORLD_SIZE``).
``cpu_isa``: the instruction set of the CPU kernels. ``native`` lets PyTorch dispatch by the CPU
  (AVX-512 where there is one); ``avx2`` pins ATen's vectorised loops and oneDNN's convolutions
  to AVX2 (``ATEN_CPU_CAPABILITY=avx2``, ``ONEDNN_MAX_CPU_ISA=AVX2``: :data:`ISA_PINS`). Both
  are read when torch loads, before any code of ours runs, so the workflow starts ``bnnbench``
  with them set (``benchmark.cluster.launcher``) and a run refuses to start without them
  (:func:`check_cpu_isa`). Pinned, an AVX-512 machine reproduces an AVX2 machine's runs where the
  two were compared (docs/NUMERICS.md); not every pair of CPUs agrees.
``deterministic``: on CUDA, cuBLAS gets a fixed workspace (``CUBLAS_WORKSPACE_CONFIG``), cuDNN
  autotuning is off and ``torch.use_deterministic_algorithms`` is on, so a run repeats bit for
  bit on one GPU; off (``fast``), cuDNN autotunes its algorithms. CPU kernels are deterministic
  for a fixed thread count either way.

These five decide a run's numbers: they enter its config (and so its hash) where they differ
from the defaults, so a checkpoint of one setting never resumes a run of another, and the
configs of default runs are what they were before these keys existed.

``data``: where an in-memory dataset's images live during training. ``host`` keeps them in CPU
memory and copies each batch to the device; ``device`` moves them to the device once (uint8
stays uint8) and gathers, augments and normalises each batch there; ``auto`` is ``device`` for
an in-memory dataset on CUDA, else ``host``. The epoch's order and augmentation draws come from
the run's CPU generator in both, so both give the same batches: a placement, not a number, it
is recorded in ``result.json``'s provenance, not in the config.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from benchmark.errors import UserError

if TYPE_CHECKING:  # torch is imported where it is used: the workflow reads these settings too
    import torch
    from torch import nn

PRECISIONS = ("fp32", "tf32", "bf16")
PLACEMENTS = ("auto", "host", "device")
CPU_ISAS = ("native", "avx2")
Precision = Literal["fp32", "tf32", "bf16"]
Placement = Literal["auto", "host", "device"]
CpuIsa = Literal["native", "avx2"]
# the environment that pins the CPU kernels: ATen's dispatch (ATEN_CPU_CAPABILITY) and oneDNN's
# JIT (ONEDNN_MAX_CPU_ISA), read when torch loads; and what torch then reports for it
ISA_PINS = {"avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}}
ISA_CAPABILITY = {"avx2": "AVX2"}
# the cuBLAS workspace that makes its kernels deterministic (CUDA docs, "cuBLAS reproducibility")
CUBLAS_WORKSPACE = ":4096:8"
NUMERIC_KEYS = ("precision", "compile", "deterministic", "processes", "cpu_isa")


@dataclasses.dataclass(frozen=True)
class Runtime:
    """A run's precision, compilation, determinism (in its config) and data placement (not)."""

    precision: Precision = "fp32"
    compile: bool = False
    deterministic: bool = True
    data: Placement = "auto"
    processes: int = 1
    cpu_isa: CpuIsa = "native"

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise UserError(f"precision '{self.precision}' is not one of {', '.join(PRECISIONS)}")
        if self.data not in PLACEMENTS:
            raise UserError(f"data placement '{self.data}' is not one of {', '.join(PLACEMENTS)}")
        if self.cpu_isa not in CPU_ISAS:
            raise UserError(f"cpu_isa '{self.cpu_isa}' is not one of {', '.join(CPU_ISAS)}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> Runtime:
        """From a config's ``runtime`` mapping; unknown keys are refused by name."""
        values = dict(values or {})
        known = {f.name for f in dataclasses.fields(cls)} - {"processes"}  # torchrun's
        if unknown := sorted(set(values) - known):
            raise UserError(f"unknown runtime key(s) {unknown}; valid: {sorted(known)}")
        return cls(**values)

    def numerics(self) -> dict[str, Any]:
        """The settings that decide the numbers, all of them (a checkpoint records these)."""
        return {key: getattr(self, key) for key in NUMERIC_KEYS}

    def config_entry(self) -> dict[str, Any]:
        """The settings that decide the numbers, where they differ from the defaults (the
        config records these; empty for a default run)."""
        default = Runtime().numerics()
        return {key: value for key, value in self.numerics().items() if value != default[key]}

    def record(self, device: torch.device, on_device: bool) -> dict[str, Any]:
        """All of them as ``result.json``'s provenance records them, with the placement resolved."""
        return {
            "precision": self.precision,
            "compile": self.compile,
            "deterministic": self.deterministic,
            "processes": self.processes,
            "cpu_isa": self.cpu_isa,
            "data": "device" if on_device else "host",
            "device_type": device.type,
        }

    def data_on_device(self, device: torch.device, in_memory: bool) -> bool:
        """Whether the training images move to ``device``; ``device`` for a dataset that is
        not held in memory is refused with what to use instead."""
        if self.data == "device" and not in_memory:
            raise UserError(
                "data placement 'device' needs a dataset held in memory (CIFAR, digits, the "
                "MNIST family, synthetic); this one streams from disk: use --data host"
            )
        return self.data == "device" or (self.data == "auto" and in_memory and device.type == "cuda")


def isa_environment(runtime: Runtime) -> dict[str, str]:
    """The environment variables that pin the CPU kernels to ``runtime.cpu_isa`` (none for
    ``native``), to be set before torch loads."""
    return dict(ISA_PINS.get(runtime.cpu_isa, {}))


def check_cpu_isa(runtime: Runtime) -> None:
    """Refuse a run whose CPU kernels are not pinned as its ``cpu_isa`` says: the pins must be in
    the environment when torch loads (the workflow sets them), and torch must report the asked
    instruction set (a CPU without AVX2 cannot run ``avx2``)."""
    pins = isa_environment(runtime)
    if not pins:
        return
    if any(os.environ.get(key) != value for key, value in pins.items()):
        prefix = " ".join(f"{key}={value}" for key, value in pins.items())
        raise UserError(
            f"cpu_isa {runtime.cpu_isa} pins the CPU kernels when torch loads, before bnnbench runs: "
            f"start it as `{prefix} bnnbench train ...` (the workflow does so itself)"
        )
    import torch

    found, wanted = torch.backends.cpu.get_cpu_capability(), ISA_CAPABILITY[runtime.cpu_isa]
    if found != wanted:
        raise UserError(
            f"cpu_isa {runtime.cpu_isa}: torch dispatches this CPU's kernels to {found}, not {wanted} "
            "(a CPU without that instruction set); use cpu_isa native here"
        )


def configure(runtime: Runtime, device: torch.device) -> None:
    """Set the process-wide flags of ``runtime`` for ``device`` (before any CUDA work)."""
    if device.type != "cuda":
        return
    import torch

    tf32 = runtime.precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    if runtime.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        torch.backends.cudnn.benchmark = True
        torch.backends.cudnn.deterministic = False


def autocast(runtime: Runtime, device: torch.device) -> Callable[[], contextlib.AbstractContextManager[Any]]:
    """A factory of the context the forward pass runs in: bf16 autocast, or nothing."""
    if runtime.precision != "bf16":
        return contextlib.nullcontext
    import torch

    return lambda: torch.autocast(device.type, dtype=torch.bfloat16)


def prepare_model(model: nn.Module, runtime: Runtime) -> nn.Module:
    """BatchNorm in float32 under bf16, then compilation if asked; the same module, changed
    in place (its ``state_dict`` keys unchanged).

    BatchNorm is in neither of autocast's cast lists, so it computes in its input's dtype: a
    hook casts that input to float32 (the convolution before it returned bfloat16)."""
    from torch import nn

    if runtime.precision == "bf16":
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.register_forward_pre_hook(float_inputs)
    if runtime.compile:
        model.compile()
    return model


def float_inputs(module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """A forward pre-hook: the module's tensor inputs as float32."""
    import torch

    return tuple(a.float() if isinstance(a, torch.Tensor) else a for a in args)
