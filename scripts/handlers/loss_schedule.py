"""The rebalancing schedule of ``gdl_boundary`` as an ignite handler of the bundle's trainer."""

from __future__ import annotations

from ignite.engine import Engine, Events

from scripts.losses import GDLBoundaryLoss, rebalanced_alpha


class LossRebalanceHandler:
    """At the start of every epoch, set ``loss.alpha = rebalanced_alpha(epoch)`` (0-based epoch: 1 in the first,
    0.01 less per epoch, floor 0.01; Kervadec et al., MIDL 2019) when ``loss`` is a :class:`GDLBoundaryLoss`;
    does nothing for any other loss, so the bundle config lists it for every ``loss_name``. A resumed run
    continues the schedule from the restored epoch."""

    def __init__(self, loss: object, step: float = 0.01, floor: float = 0.01) -> None:
        self.loss = loss
        self.step = float(step)
        self.floor = float(floor)

    def attach(self, engine: Engine) -> None:
        if isinstance(self.loss, GDLBoundaryLoss):
            engine.add_event_handler(Events.EPOCH_STARTED, self)

    def __call__(self, engine: Engine) -> None:
        self.loss.alpha = rebalanced_alpha(engine.state.epoch - 1, self.step, self.floor)
