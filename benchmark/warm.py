"""Warm starts for the training jobs of a local Snakemake run: one server imports torch once and
forks every ``bnnbench train`` from there (issue 13: the laptop targets' time).

Why: before a ``bnnbench train`` process trains, it spends about 4 s on a 2-core Zen 3 importing
torch and ``torch._dynamo`` (``torch.optim`` imports it on first use), against the 5-30 s a mini
run trains; the quick start starts 63 such processes, the default grid 335.

How: Snakemake's ``onstart`` (local execution only; ``workflows/common.smk``) calls :func:`start`,
which runs ``python -m benchmark.warm NAME --owner PID``: the server imports what a training run
imports, then listens on the abstract Unix socket NAME, and :data:`ENV` = NAME is set for the
jobs. ``bnnbench train`` (:func:`delegate`, from :func:`benchmark.cli.main`) then sends its
arguments, working directory, environment and the file descriptors of its standard streams; the
server forks a child that runs ``bnnbench`` with them exactly as a new process would, answers the
child's pid (the client forwards SIGTERM, SIGINT, SIGUSR1 and SIGHUP to it: checkpoint-and-exit
still works) and, when it ends, its exit status, which the client exits with. The child starts
from a state in which no torch operation has run and seeds everything as a new process does, so
a run writes the same records either way (``tests/test_warm.py``; the small grid compared with
``tools.same_records``); ``result.json`` records ``provenance.started`` = ``warm`` or ``cold``.

The server declines, and the client trains in its own process, when the job's environment differs
from the server's in a variable read when torch or its libraries load (:data:`LOAD_TIME`: the
kernel pins of ``runtime.cpu_isa``, thread pools, ...), when its Python or the code of the
``benchmark`` and ``methods`` packages differs (an edit since the server started), or when the
job is a rank of a distributed run. It exits when its owner (Snakemake) is gone, on SIGTERM
(:func:`stop`; running children get SIGTERM and checkpoint) and after ``--idle`` seconds without
a job. A client whose connection fails trains in its own process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time
import traceback
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

ENV = "BNNBENCH_WARM"
# variables read when torch, oneDNN, OpenMP, BLAS or Python load: a forked child keeps the
# server's, so a job whose values differ must start cold
LOAD_TIME = (
    "ATEN_", "ONEDNN_", "DNNL_", "OMP_", "KMP_", "GOMP_", "MKL_", "OPENBLAS_", "TORCH", "PYTORCH",
    "CUDA", "NVIDIA", "HIP_", "ROCR_", "LD_", "PYTHON", "MALLOC_", "GOTO_", "VECLIB_",
    "NUMEXPR_",
)  # fmt: skip
DISTRIBUTED = ("RANK", "LOCAL_RANK", "WORLD_SIZE")
# what Snakemake's shell sets to a job's threads (snakemake/shell.py)
THREAD_VARIABLES = (
    "OMP_NUM_THREADS", "GOTO_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS",
)  # fmt: skip
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGHUP)
_HEADER = struct.Struct("!I")
STARTED = "cold"  # "warm" in a forked child: result.json's provenance.started


# --------------------------------------------------------------------------- messages
def _send(sock: socket.socket, message: Mapping[str, Any]) -> None:
    data = json.dumps(message).encode()
    sock.sendall(_HEADER.pack(len(data)) + data)


def _receive(sock: socket.socket) -> dict[str, Any] | None:
    """One message, or None when the peer closed the connection."""
    head = _read(sock, _HEADER.size)
    if head is None:
        return None
    body = _read(sock, _HEADER.unpack(head)[0])
    return None if body is None else json.loads(body)


def _read(sock: socket.socket, n: int) -> bytes | None:
    chunks, left = [], n
    while left:
        chunk = sock.recv(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _address(name: str) -> str:
    return "\0" + name  # Linux's abstract namespace: no file, gone with the server


def identity() -> dict[str, Any]:
    """What a job must share with the server to be forked from it."""
    from benchmark.checkcache import code_fingerprint

    return json.loads(json.dumps({"python": sys.executable, "code": code_fingerprint()}))  # as sent


def load_time_environment(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith(LOAD_TIME)}


def refusal(request: Mapping[str, Any], own: Mapping[str, Any]) -> str | None:
    """Why the server cannot fork ``request`` (None: it can); ``own``: the server's
    :func:`identity` and its environment as it started (torch's imports add variables)."""
    if request["identity"] != {k: v for k, v in own.items() if k != "env"}:
        return "another Python or another version of the code than the server's"
    theirs, ours = load_time_environment(request["env"]), load_time_environment(own["env"])
    if theirs != ours:
        names = sorted(k for k in theirs.keys() | ours.keys() if theirs.get(k) != ours.get(k))
        return f"the environment differs from the server's in {', '.join(names)}"
    return None


# --------------------------------------------------------------------------- client
def delegate(name: str, argv: Sequence[str]) -> int | None:
    """Run ``bnnbench argv`` in a child of the server ``name``; its exit status, or None when the
    server cannot take it (the caller runs it itself)."""
    if any(key in os.environ for key in DISTRIBUTED):
        return None
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(_address(name))
        socket.send_fds(sock, [b"\n"], [0, 1, 2])
        request = {"argv": list(argv), "cwd": os.getcwd(), "env": dict(os.environ), "identity": identity()}
        _send(sock, request)
        answer = _receive(sock)
    except OSError:
        return None
    if answer is None or "pid" not in answer:
        sock.close()
        return None
    return _wait(sock, answer["pid"])


def _wait(sock: socket.socket, pid: int) -> int:
    """Forward signals to the child ``pid`` until the server reports how it ended."""

    def forward(signum: int, _frame: Any) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    for sig in FORWARDED:
        signal.signal(sig, forward)
    try:
        answer = _receive(sock)
    finally:
        sock.close()
    if answer is None:
        print("bnnbench: the warm-start server went away before the run ended", file=sys.stderr)
        return 1
    return int(answer["status"])


# --------------------------------------------------------------------------- server
class Server:
    """The listening socket, a connection per running child, and its shutdown rules."""

    def __init__(self, name: str, owner: int, idle: float, environment: Mapping[str, str]) -> None:
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(_address(name))
        self.listener.listen(64)
        self.owner, self.idle, self.last = owner, idle, time.monotonic()
        self.children: dict[int, socket.socket] = {}
        self.stopping = False
        self.own = {**identity(), "env": environment}
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ)

    def serve(self) -> None:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        while not self.stopping and not self._done():
            for key, _ in self.selector.select(timeout=0.2):
                if key.fileobj is self.listener:
                    self._accept()
                else:
                    self._client_gone(key.fileobj)  # a client sends nothing after its request
            self._reap()
        self._shutdown()

    def _done(self) -> bool:
        owner_gone = not _alive(self.owner)
        idle = not self.children and time.monotonic() - self.last > self.idle
        return owner_gone or idle

    def _stop(self, _signum: int, _frame: Any) -> None:
        self.stopping = True

    def _accept(self) -> None:
        conn, _ = self.listener.accept()
        self.last = time.monotonic()
        fds: list[int] = []
        try:
            conn.settimeout(10)
            _, fds, _, _ = socket.recv_fds(conn, 1, 3)
            request = _receive(conn)
            reason = "no request" if request is None or len(fds) != 3 else refusal(request, self.own)
            if reason:
                _send(conn, {"declined": reason})
                conn.close()
                return
            pid = os.fork()
            if pid == 0:
                self._child(conn, fds, request)
            _send(conn, {"pid": pid})
            conn.settimeout(None)
            self.children[pid] = conn
            self.selector.register(conn, selectors.EVENT_READ)
        except OSError as err:
            print(f"bnnbench warm start: a request failed: {err}", file=sys.stderr)
            conn.close()
        finally:
            for fd in fds:
                os.close(fd)

    def _child(self, conn: socket.socket, fds: list[int], request: Mapping[str, Any]) -> None:
        """In the forked child: become ``bnnbench argv`` of the client; never returns."""
        self.selector.close()
        for sock in (self.listener, conn, *self.children.values()):
            sock.close()
        os._exit(run_child(fds, request))

    def _client_gone(self, conn: Any) -> None:
        """A client closed its connection (killed): its child is told to stop (it checkpoints)."""
        if conn.recv(1):
            return
        for pid, sock in self.children.items():
            if sock is conn:
                _signal(pid, signal.SIGTERM)
        self.selector.unregister(conn)

    def _reap(self) -> None:
        while self.children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return
            conn = self.children.pop(pid, None)
            if conn is None:
                continue
            self.last = time.monotonic()
            code = os.waitstatus_to_exitcode(status)
            with contextlib.suppress(OSError):
                _send(conn, {"status": code if code >= 0 else 128 - code})
            self._forget(conn)

    def _forget(self, conn: socket.socket) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(conn)
        conn.close()

    def _shutdown(self) -> None:
        for pid in self.children:
            _signal(pid, signal.SIGTERM)
        while self.children:
            self._reap()
            time.sleep(0.1)
        self.listener.close()


def run_child(fds: list[int], request: Mapping[str, Any]) -> int:
    """``bnnbench argv`` on the client's standard streams, directory and environment."""
    global STARTED
    STARTED = "warm"
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    sys.stdout.reconfigure(line_buffering=os.isatty(1))
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.environ.pop(ENV, None)  # the child trains itself
    sys.argv = ["bnnbench", *request["argv"]]
    code = 1
    try:
        from benchmark import cli

        code = cli.main(request["argv"])
    except SystemExit as end:
        code = end.code if isinstance(end.code, int) else (0 if end.code is None else 1)
    except BaseException:  # noqa: BLE001 - the child must report and exit whatever happens
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return code


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def preload() -> None:
    """Import what a training run imports, without running any torch operation (a forked child
    must not inherit started thread pools)."""
    import torch._dynamo  # noqa: F401 - what torch.optim imports on first use

    import benchmark.train  # noqa: F401
    from benchmark.data import registry  # noqa: F401
    from methods import catalog

    catalog.load_builtins()


# --------------------------------------------------------------------------- the workflow's side
_server: subprocess.Popen[bytes] | None = None


def wanted(config: Mapping[str, Any], workflow: Any, rule: str = "train") -> bool:
    """Whether a Snakemake run starts a server: ``warm_start`` on, the main process, local
    execution (a cluster job is its own process on another node, under the scheduler's limits),
    and some ``rule`` job to run (a run that only builds tables needs no torch)."""
    if not config.get("warm_start", True) or not workflow.is_main_process or workflow.non_local_exec:
        return False
    return any(job.rule.name == rule for job in workflow.dag.needrun_jobs())


def start(threads: int, idle: float = 600.0, timeout: float = 120.0) -> str | None:
    """Start a server owned by this process (Snakemake's onstart) and set :data:`ENV` for the jobs
    it starts; its name, or None (with a line on stderr) when it did not come up. The server's
    environment is a job's: Snakemake sets :data:`THREAD_VARIABLES` to the job's ``threads``."""
    global _server
    name = f"bnnbench-warm-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    command = [sys.executable, "-m", "benchmark.warm", name, "--owner", str(os.getpid()), "--idle", str(idle)]
    env = {**os.environ, **dict.fromkeys(THREAD_VARIABLES, str(threads))}
    _server = subprocess.Popen(command, stdout=subprocess.PIPE, start_new_session=True, env=env)
    ready = _ready(_server, timeout)
    if not ready:
        print("bnnbench: the warm-start server did not start; training jobs start cold", file=sys.stderr)
        stop()
        return None
    os.environ[ENV] = name
    return name


def _ready(server: subprocess.Popen[bytes], timeout: float) -> bool:
    assert server.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(server.stdout, selectors.EVENT_READ)
    ready = bool(selector.select(timeout)) and server.stdout.readline().strip() == b"ready"
    selector.close()
    server.stdout.close()
    return ready


def stop(timeout: float = 60.0) -> None:
    """Stop the server :func:`start` started (Snakemake's onsuccess and onerror)."""
    global _server
    os.environ.pop(ENV, None)
    if _server is None:
        return
    _server.terminate()
    try:
        _server.wait(timeout)
    except subprocess.TimeoutExpired:
        _server.kill()
    _server = None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.warm", description=__doc__.split("\n")[0])
    parser.add_argument("name", help="the abstract socket's name")
    parser.add_argument("--owner", type=int, required=True, help="exit when this process is gone")
    parser.add_argument("--idle", type=float, default=600.0, help="exit after so many seconds without a job")
    args = parser.parse_args(argv)
    environment = dict(os.environ)  # before torch's imports set variables of their own
    preload()
    server = Server(args.name, args.owner, args.idle, environment)
    print("ready", flush=True)
    devnull = os.open(os.devnull, os.O_WRONLY)  # start() closes the pipe; children get their own
    os.dup2(devnull, 1)
    os.close(devnull)
    server.serve()
    return 0


if __name__ == "__main__":  # run as benchmark.warm, whose STARTED the children's records read
    from benchmark import warm

    sys.exit(warm.main())
