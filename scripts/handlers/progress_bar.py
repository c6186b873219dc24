"""Terminal progress bar for a MONAI engine (ignite's tqdm ``ProgressBar`` showing the loss)."""

from __future__ import annotations

from collections.abc import Callable

from ignite.engine import Engine
from ignite.handlers import ProgressBar
from monai.handlers import from_engine


class ProgressBarHandler:
    """Attach ignite's ``ProgressBar`` with an output transform, as MONAI engines call ``handler.attach(engine)``.

    Args:
        output_transform: value(s) shown beside the bar; default the trainer's ``loss``; ``None`` shows none.
        desc: prefix of the bar.
        persist: keep the finished bar of each epoch on the terminal.
    """

    def __init__(self, output_transform: Callable | str | None = "loss", desc: str = "", persist: bool = False) -> None:
        if output_transform == "loss":
            loss = from_engine(["loss"], first=True)
            output_transform = lambda output: {"loss": float(loss(output))}  # noqa: E731
        self.output_transform = output_transform
        self.bar = ProgressBar(persist=persist, desc=desc)

    def attach(self, engine: Engine) -> None:
        self.bar.attach(engine, output_transform=self.output_transform)
