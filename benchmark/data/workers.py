"""DataLoader workers that outlive a SIGTERM meant for the whole job, so that the training process
can checkpoint at its next step (``benchmark.checkpoint``; DESIGN 9) before it stops them.

SLURM's ``--signal=TERM@T`` (our SLURM profile), preemption and ``kill -TERM -<group>`` signal
every process of the job, DataLoader workers included. torch's workers die on SIGTERM, and the
training process then fails on the lost worker ("DataLoader worker ... is killed by signal:
Terminated") before it reaches the step boundary where it would have written its checkpoint.

:func:`worker_init` (the DataLoader's ``worker_init_fn``) blocks SIGTERM in the worker and starts
a thread that waits for it with ``sigwaitinfo``, which tells who sent it: a SIGTERM from the
training process itself (the DataLoader's or multiprocessing's ``terminate()``) ends the worker
at once; any other is left to the training process, which stops its workers once it has
checkpointed. A worker whose training process is gone exits by itself (torch's watchdog), and
SIGKILL ends it as always. Where ``sigwaitinfo`` does not exist (macOS), torch's handling stays.
"""

from __future__ import annotations

import os
import signal
import threading


def worker_init(worker_id: int) -> None:
    """The DataLoader's ``worker_init_fn``: SIGTERM ends this worker only if its parent sent it."""
    if not hasattr(signal, "sigwaitinfo"):
        return
    # blocked before any other thread of the worker starts, so that every thread inherits it
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    threading.Thread(target=_wait_for_parents_sigterm, args=(os.getppid(),), daemon=True).start()


def _wait_for_parents_sigterm(parent: int) -> None:
    while signal.sigwaitinfo({signal.SIGTERM}).si_pid != parent:
        pass
    os._exit(128 + signal.SIGTERM)  # the status of a death by SIGTERM
