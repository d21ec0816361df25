"""Progress for long runs: a bar on a terminal, periodic log lines otherwise (SLURM logs)."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from tqdm import tqdm


class Progress:
    """Reports training steps; ``update`` is cheap enough to call every step."""

    def __init__(
        self,
        total: int,
        label: str,
        stream: TextIO | None = None,
        interval_s: float = 30.0,
        enabled: bool = True,
    ) -> None:
        self.stream = stream or sys.stderr
        self.label = label
        self.total = total
        self.interval_s = interval_s
        self.enabled = enabled
        self.step = 0
        self.start = self.last_log = time.monotonic()
        tty = enabled and self.stream.isatty()
        self.bar = (
            tqdm(total=total, desc=label, file=self.stream, leave=False, dynamic_ncols=True) if tty else None
        )

    def update(self, n: int = 1, **info: Any) -> None:
        self.step += n
        if self.bar is not None:
            self.bar.update(n)
            return
        now = time.monotonic()
        if self.enabled and now - self.last_log >= self.interval_s:
            self.last_log = now
            self.log(self._fmt(info))

    def advance_to(self, step: int) -> None:
        """Start counting at ``step`` (a resumed run)."""
        self.update(step - self.step)

    def epoch_done(self, epoch: int, epochs: int, **info: Any) -> None:
        text = f"epoch {epoch}/{epochs} " + self._fmt(info)
        if self.bar is not None:
            self.bar.set_postfix_str(text)
        elif self.enabled:
            self.log(text)

    def log(self, text: str) -> None:
        elapsed = time.monotonic() - self.start
        print(
            f"[{self.label}] step {self.step}/{self.total} ({elapsed:.0f}s) {text}",
            file=self.stream,
            flush=True,
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    @staticmethod
    def _fmt(info: dict[str, Any]) -> str:
        return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in info.items())
