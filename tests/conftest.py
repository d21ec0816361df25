"""Shared test settings: one torch thread (CI has 2 cores shared with other work), and the
small workflow grid of tests/workflow_grid.py, trained once per session for the end-to-end
tests (fixture ``finished_workflow``).

The grid's Snakemake run is a separate process that spends most of its time starting
training jobs, so it starts in the background as soon as the tests are collected (when a
selected test needs it), and the tests that need it run last: the in-process tests run
meanwhile.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests import workflow_grid

torch.set_num_threads(1)

FIXTURE = "finished_workflow"
_started: dict[str, workflow_grid.Background] = {}


def _needs_workflow(item: pytest.Item) -> bool:
    return FIXTURE in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests that need the finished workflow run last (a stable sort: order kept otherwise)."""
    items.sort(key=_needs_workflow)


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly or not any(map(_needs_workflow, session.items)):
        return
    # as deep below the base temporary directory as tmp_path_factory.mktemp's directories:
    # tests/test_integrity.py copies the working directory to one of them
    workdir = session.config._tmp_path_factory.mktemp("workflow")
    _started["run"] = workflow_grid.Background(workdir)


def pytest_sessionfinish(session: pytest.Session) -> None:
    run = _started.pop("run", None)
    if run is not None:
        run.stop()


@pytest.fixture(scope="session")
def finished_workflow(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """(working directory, config) where ``snakemake all`` finished on the small grid of
    tests/workflow_grid.py. Tests must not change that directory: copy it first."""
    run = _started.get("run")
    if run is None:  # not started at collection (e.g. the fixture was requested dynamically)
        run = _started["run"] = workflow_grid.Background(tmp_path_factory.mktemp("workflow"))
    return run.wait()
