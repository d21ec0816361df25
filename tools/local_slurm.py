"""A throwaway single-node SLURM cluster in a temporary directory (``nox -s slurm``).

It runs the Debian packages ``slurm-wlm`` and ``munge`` as they are installed, with every
file of its own (munge key and socket, ``slurm.conf``, spool, state, logs, pid files)
under one state directory, so it touches nothing in ``/etc`` or ``/var`` and can run
next to anything else on the machine (its ports are picked free at start)::

    python -m tools.local_slurm start DIR    # prints `export SLURM_CONF=... PATH=...`
    python -m tools.local_slurm status DIR
    python -m tools.local_slurm stop DIR

The cluster is one node named after this host (``hostname -s``) with its real CPU count
and memory, one partition ``debug`` (the default), no accounting (``sacct`` does not work:
job states come from ``squeue`` only), no cgroups (``proctrack/linuxproc``,
``task/none``), daemons running as root. With ``gpus=N`` the node also declares N generic
resources ``gpu`` (``gres.conf``: ``/dev/null`` as the device), so that jobs asking for
``--gres=gpu:1`` are scheduled and accounted as on a GPU cluster, though no GPU exists: what
it tests is the scheduling, not CUDA. ``stop`` ends exactly the daemons ``start``
started (by the pids it recorded, after checking that each pid is still that daemon).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sinfo", "squeue", "sbatch", "scontrol", "srun", "scancel")
PACKAGES = ("slurm-wlm", "munge")
PARTITION = "debug"
CLUSTER_NAME = "bnnbench"
STATE_FILE = "cluster.json"
SBIN = ("/usr/sbin", "/sbin")


class SlurmUnavailable(RuntimeError):
    """The SLURM or munge programs are not installed (the only reason to skip)."""


@dataclass(frozen=True)
class Node:
    """The one compute node: this host, as SLURM should describe it."""

    name: str
    cpus: int
    memory_mb: int


@dataclass(frozen=True)
class Layout:
    """Where every file of a cluster lives, all under ``root``."""

    root: Path

    @property
    def conf(self) -> Path:
        return self.root / "slurm.conf"

    @property
    def munge_key(self) -> Path:
        return self.root / "munge" / "munge.key"

    @property
    def munge_socket(self) -> Path:
        return self.root / "munge" / "munge.socket"

    @property
    def state(self) -> Path:
        return self.root / STATE_FILE

    def log(self, daemon: str) -> Path:
        return self.root / "log" / f"{daemon}.log"

    def pid(self, daemon: str) -> Path:
        return self.root / "run" / f"{daemon}.pid"

    @property
    def ctld_state(self) -> Path:
        return self.root / "ctld"

    @property
    def spool(self) -> Path:
        return self.root / "spool"

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    def directories(self) -> list[Path]:
        """Directories to create before the daemons start."""
        return [
            self.munge_key.parent,
            self.log("x").parent,
            self.pid("x").parent,
            self.ctld_state,
            self.spool,
        ]


@dataclass(frozen=True)
class Cluster:
    """A started cluster: its state directory, configuration, daemon pids, start-up time."""

    root: Path
    conf: Path
    pids: dict[str, int]
    node: Node
    seconds_to_idle: float

    def environment(self) -> dict[str, str]:
        """Environment variables that point SLURM's commands (and jobs) at this cluster."""
        return environment(self.root)


def program(name: str) -> str | None:
    """The full path of a SLURM or munge program, also looking in sbin (not always on PATH)."""
    path = os.pathsep.join([os.environ.get("PATH", ""), *SBIN])
    return shutil.which(name, path=path)


def missing_programs() -> list[str]:
    """The daemons and client commands that are not installed."""
    return [name for name in (*DAEMONS, *CLIENTS) if program(name) is None]


def local_node() -> Node:
    """This host as one SLURM node: short hostname, usable CPUs, total memory in MiB."""
    name = socket.gethostname().split(".")[0]
    cpus = len(os.sched_getaffinity(0))
    memory_mb = 1024
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory_mb = int(line.split()[1]) // 1024  # kB -> MiB, as `slurmd -C` reports
            break
    return Node(name=name, cpus=cpus, memory_mb=memory_mb)


def slurm_conf(
    layout: Layout,
    node: Node,
    ctld_port: int,
    slurmd_port: int,
    *,
    kill_wait: int = 5,
    min_job_age: int = 300,
    cred_expire: int = 120,
    scheduler_interval: int = 5,
    gpus: int = 0,
) -> str:
    """The text of ``slurm.conf`` for a one-node cluster whose files all live in ``layout``.

    ``kill_wait`` is the grace between SIGTERM and SIGKILL when a job is cancelled,
    requeued or reaches its time limit; ``min_job_age`` keeps finished jobs visible to
    ``squeue`` (the Snakemake SLURM plugin reads job states from ``squeue`` when there
    is no accounting, and wants at least three times its first status-check delay).
    ``cred_expire`` (munge credential lifetime) is also how long SLURM holds a requeued
    job before it may start again (``cred_expire + 1`` seconds; 120 is SLURM's default);
    ``scheduler_interval`` is how often the main and backfill schedulers look at pending
    jobs (SLURM's defaults are 60 and 30 seconds). ``gpus``: generic resources ``gpu`` of the
    node (``GresTypes`` and the node's ``Gres``; :func:`gres_conf` counts them).
    """
    settings: dict[str, object] = {
        "ClusterName": CLUSTER_NAME,
        "SlurmctldHost": f"{node.name}(127.0.0.1)",
        "SlurmctldPort": ctld_port,
        "SlurmdPort": slurmd_port,
        "SlurmUser": "root",
        "SlurmdUser": "root",
        "AuthType": "auth/munge",
        "CredType": "cred/munge",
        "AuthInfo": f"socket={layout.munge_socket},cred_expire={cred_expire}",
        "StateSaveLocation": layout.ctld_state,
        "SlurmdSpoolDir": layout.spool,
        "SlurmctldPidFile": layout.pid("slurmctld"),
        "SlurmdPidFile": layout.pid("slurmd"),
        "SlurmctldLogFile": layout.log("slurmctld"),
        "SlurmdLogFile": layout.log("slurmd"),
        "SlurmctldDebug": "info",
        "SlurmdDebug": "info",
        "PlugStackConfig": layout.root / "plugstack.conf",
        "AccountingStorageType": "accounting_storage/none",
        "JobAcctGatherType": "jobacct_gather/none",
        "JobCompType": "jobcomp/none",
        "ProctrackType": "proctrack/linuxproc",
        "TaskPlugin": "task/none",
        "SwitchType": "switch/none",
        "MpiDefault": "none",
        "SchedulerType": "sched/backfill",
        "SchedulerParameters": f"sched_interval={scheduler_interval},bf_interval={scheduler_interval}",
        "SelectType": "select/cons_tres",
        "SelectTypeParameters": "CR_Core_Memory",
        "ReturnToService": 2,
        "KillWait": kill_wait,
        "MinJobAge": min_job_age,
        "InactiveLimit": 0,
        "SlurmdTimeout": 60,
        "SlurmctldTimeout": 30,
        "PropagateResourceLimits": "NONE",
    }
    if gpus:
        settings["GresTypes"] = "gpu"
    lines = [f"# one-node test cluster, generated by tools/local_slurm.py in {layout.root}"]
    lines += [f"{key}={value}" for key, value in settings.items()]
    gres = f" Gres=gpu:{gpus}" if gpus else ""
    lines.append(
        f"NodeName={node.name} NodeAddr=127.0.0.1 CPUs={node.cpus} RealMemory={node.memory_mb}{gres}"
        " State=UNKNOWN"
    )
    lines.append(f"PartitionName={PARTITION} Nodes={node.name} Default=YES MaxTime=INFINITE State=UP")
    return "\n".join(lines) + "\n"


def gres_conf(node: Node, gpus: int) -> str:
    """``gres.conf`` of a node with one GPU: a generic resource ``gpu`` whose "device" is
    ``/dev/null`` (SLURM 22.05 counts a ``gpu`` by its device file; no file, no GPU)."""
    return "".join(f"NodeName={node.name} Name=gpu File=/dev/null\n" for _ in range(gpus))


def environment(root: Path) -> dict[str, str]:
    """``SLURM_CONF`` for the cluster in ``root``, and its client wrappers first on ``PATH``.

    sbatch passes both on to the jobs. The Snakemake SLURM plugin removes every
    ``SLURM_*`` variable before it calls ``srun`` inside a job, which is right on a real
    cluster (whose ``slurm.conf`` is in ``/etc``) but loses this one; the wrappers in
    ``root/bin`` (see :func:`write_client_wrappers`) put it back.
    """
    layout = Layout(Path(root))
    path = os.pathsep.join([str(layout.bin), os.environ.get("PATH", "")])
    return {"SLURM_CONF": str(layout.conf), "PATH": path}


def write_client_wrappers(layout: Layout) -> None:
    """``root/bin/<client>``: the SLURM client with ``SLURM_CONF`` set to this cluster's."""
    layout.bin.mkdir(parents=True, exist_ok=True)
    for name in CLIENTS:
        exe = program(name)
        if exe is None:
            continue
        wrapper = layout.bin / name
        wrapper.write_text(f'#!/bin/sh\nSLURM_CONF="{layout.conf}" exec "{exe}" "$@"\n')
        wrapper.chmod(0o755)


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports that are free on localhost right now."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def start(
    root: Path, *, timeout: float = 60.0, kill_wait: int = 5, cred_expire: int = 120, gpus: int = 0
) -> Cluster:
    """Write the configuration, start munged, slurmctld and slurmd, wait for an idle node.

    Raises :class:`SlurmUnavailable` if the programs are missing, and ``RuntimeError``
    (after stopping whatever it started) if the node is not idle within ``timeout``.
    """
    missing = missing_programs()
    if missing:
        raise SlurmUnavailable(
            f"SLURM is not installed (missing {', '.join(missing)}); on Debian: "
            f"apt-get install -y {' '.join(PACKAGES)}"
        )
    layout = Layout(Path(root).resolve())
    if layout.state.exists() and alive(layout.root):
        raise RuntimeError(f"a cluster is already running in {layout.root}; stop it first")
    for directory in layout.directories():
        directory.mkdir(parents=True, exist_ok=True)
    layout.root.chmod(0o700)
    layout.munge_key.parent.chmod(0o700)
    layout.munge_key.write_bytes(os.urandom(1024))
    layout.munge_key.chmod(0o600)
    (layout.root / "plugstack.conf").write_text("")  # no SPANK plugins from /etc
    write_client_wrappers(layout)
    node = local_node()
    ctld_port, slurmd_port = free_ports(2)
    options = {"kill_wait": kill_wait, "cred_expire": cred_expire, "gpus": gpus}
    layout.conf.write_text(slurm_conf(layout, node, ctld_port, slurmd_port, **options))
    if gpus:  # slurmd reads gres.conf next to slurm.conf
        (layout.conf.parent / "gres.conf").write_text(gres_conf(node, gpus))

    began = time.monotonic()
    pids: dict[str, int] = {}
    env = {**os.environ, **environment(layout.root)}
    try:
        _launch(
            "munged",
            [
                "--force",
                f"--key-file={layout.munge_key}",
                f"--socket={layout.munge_socket}",
                f"--pid-file={layout.pid('munged')}",
                f"--log-file={layout.log('munged')}",
                f"--seed-file={layout.root / 'munge' / 'munged.seed'}",
            ],
            layout,
            pids,
            env,
        )
        _launch("slurmctld", ["-f", str(layout.conf), "-i"], layout, pids, env)
        _launch("slurmd", ["-f", str(layout.conf)], layout, pids, env)
        _save(layout, pids, node)
        _wait_idle(layout, node, began + timeout)
    except BaseException:
        _save(layout, pids, node)
        stop(layout.root)
        raise
    return Cluster(layout.root, layout.conf, pids, node, time.monotonic() - began)


def _launch(
    daemon: str, args: Sequence[str], layout: Layout, pids: dict[str, int], env: Mapping[str, str]
) -> None:
    """Start one daemon (it forks into the background) and record its pid from its pid file."""
    pidfile = layout.pid(daemon)
    pidfile.unlink(missing_ok=True)
    exe = program(daemon)
    assert exe is not None
    proc = subprocess.run(
        [exe, *args], env=dict(env), capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"{daemon} did not start ({proc.returncode}): {proc.stderr.strip()}{_tail(layout, daemon)}"
        )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        text = pidfile.read_text().strip() if pidfile.exists() else ""
        if text.isdigit() and _is_daemon(int(text), daemon):
            pids[daemon] = int(text)
            return
        time.sleep(0.1)
    raise RuntimeError(f"{daemon} wrote no pid file {pidfile}{_tail(layout, daemon)}")


def _tail(layout: Layout, daemon: str, chars: int = 2000) -> str:
    log = layout.log(daemon)
    return f"\n--- {log}:\n{log.read_text()[-chars:]}" if log.exists() else ""


def _save(layout: Layout, pids: Mapping[str, int], node: Node) -> None:
    state = {"pids": dict(pids), "conf": str(layout.conf), "node": asdict(node)}
    layout.state.write_text(json.dumps(state, indent=2) + "\n")


def _load(root: Path) -> dict:
    path = Layout(Path(root).resolve()).state
    return json.loads(path.read_text()) if path.exists() else {"pids": {}}


def _wait_idle(layout: Layout, node: Node, deadline: float) -> None:
    """Poll ``sinfo`` until the node is idle."""
    last = ""
    while time.monotonic() < deadline:
        last = node_state(layout.root)
        if last.startswith("idle"):
            return
        time.sleep(0.5)
    tails = "".join(_tail(layout, d) for d in DAEMONS[1:])
    raise RuntimeError(f"node {node.name} not idle in time (last state {last!r}){tails}")


def node_state(root: Path) -> str:
    """The node's state as ``sinfo`` reports it (``idle``, ``mixed``, ...), or ``''``."""
    sinfo = program("sinfo")
    if sinfo is None:
        return ""
    proc = subprocess.run(
        [sinfo, "--noheader", "--Node", "--format=%T"],
        env={**os.environ, **environment(root)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    return proc.stdout.strip() if proc.returncode == 0 else ""


def _is_daemon(pid: int, daemon: str) -> bool:
    """Whether ``pid`` is alive and is the program ``daemon`` (guards against pid reuse)."""
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return False
    return comm == daemon or comm.startswith(daemon)  # Debian names them e.g. slurmctld


def alive(root: Path) -> dict[str, int]:
    """The daemons of the cluster in ``root`` that are still running, with their pids."""
    pids = _load(root)["pids"]
    return {d: pid for d, pid in pids.items() if _is_daemon(pid, d)}


def stop(root: Path, *, timeout: float = 20.0) -> list[str]:
    """Stop the daemons that :func:`start` started in ``root`` (slurmd first, munged last).

    SIGTERM by recorded pid, wait for each to exit, SIGKILL after ``timeout`` seconds.
    Returns the names of the daemons it stopped.
    """
    running = alive(root)
    if "slurmctld" in running and "slurmd" in running:
        cancel_jobs(root)
    stopped = []
    for daemon in reversed(DAEMONS):
        pid = running.get(daemon)
        if pid is None:
            continue
        _signal(pid, signal.SIGTERM)
        if not _wait_gone(pid, daemon, timeout):
            _signal(pid, signal.SIGKILL)
            _wait_gone(pid, daemon, 5.0)
        stopped.append(daemon)
    return stopped


def cancel_jobs(root: Path, *, timeout: float = 30.0) -> None:
    """Cancel every job of the cluster in ``root`` and wait until none is left running.

    Job processes run under ``slurmstepd``, not under the daemons, so stopping the daemons
    alone would leave them behind.
    """
    env = {**os.environ, **environment(root)}
    scancel, squeue = program("scancel"), program("squeue")
    if scancel is None or squeue is None:
        return
    subprocess.run([scancel, "--full", "--user", str(os.getuid())], env=env, capture_output=True, timeout=30)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc = subprocess.run(
            [squeue, "--noheader", "--states=RUNNING,COMPLETING,PENDING,CONFIGURING,REQUEUED", "--format=%i"],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        if proc.returncode != 0 or not proc.stdout.strip():
            return
        time.sleep(0.5)


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _wait_gone(pid: int, daemon: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reaps it if it happens to be our child
        if not _is_daemon(pid, daemon) or _is_zombie(pid):
            return True
        time.sleep(0.1)
    return False


def _is_zombie(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return True
    return fields[0] == "Z"


def status(root: Path) -> str:
    """A few lines on the cluster in ``root``: which daemons run, the node's state."""
    running = alive(root)
    lines = [f"{d}: {'running, pid ' + str(running[d]) if d in running else 'not running'}" for d in DAEMONS]
    if "slurmctld" in running:
        lines.append(f"node: {node_state(root) or 'unknown'}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tools.local_slurm start|stop|status DIR``."""
    parser = argparse.ArgumentParser(prog="python -m tools.local_slurm", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["start", "stop", "status"])
    parser.add_argument("dir", type=Path, help="state directory of the cluster (created by start)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for an idle node")
    parser.add_argument("--kill-wait", type=int, default=5, help="slurm.conf KillWait (seconds)")
    parser.add_argument(
        "--cred-expire",
        type=int,
        default=120,
        help="AuthInfo cred_expire (seconds): also how long a requeued job waits before it can start",
    )
    parser.add_argument("--gpus", type=int, default=0, help="generic resources 'gpu' of the node (no device)")
    args = parser.parse_args(argv)
    if args.command == "start":
        try:
            cluster = start(
                args.dir,
                timeout=args.timeout,
                kill_wait=args.kill_wait,
                cred_expire=args.cred_expire,
                gpus=args.gpus,
            )
        except SlurmUnavailable as error:
            print(f"SKIPPED: {error}", file=sys.stderr)
            return 3
        print(
            f"node {cluster.node.name} idle after {cluster.seconds_to_idle:.1f} s "
            f"({cluster.node.cpus} CPUs, {cluster.node.memory_mb} MiB); daemons {cluster.pids}",
            file=sys.stderr,
        )
        for key, value in cluster.environment().items():
            print(f"export {key}={shlex.quote(value)}")
    elif args.command == "stop":
        stopped = stop(args.dir)
        print(f"stopped {', '.join(stopped) or 'nothing (no daemon of this cluster was running)'}")
    else:
        print(status(args.dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
