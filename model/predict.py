"""predict(scenario) -> the trace a conforming driver build produces (specs/trace.md).

Step semantics (module load/unload as the kernel does it):

* ``init`` when the module is not loaded: vmballoon_init runs, ``INIT rc`` is
  recorded; the module is loaded iff rc == 0. ``init`` while loaded records
  only its STEP (as both backends do). The driver's static ``balloon`` is
  zeroed at the first load; on a later load (after exit or a failed init) it
  keeps its old contents in the userspace harness (one process, statics
  survive: ``statics_survive_reload=True``, the default) but starts zeroed
  again in the kernel (a fresh insmod: ``statics_survive_reload=False``).
* ``cycle``: if the work item is queued, it is dequeued, ``WORK_RUN`` is
  recorded and vmballoon_work runs; otherwise only the STEP.
* ``debugfs``: ``DEBUGFS_READ`` with vmballoon_debug_show's text if the file exists.
* ``exit`` when loaded: vmballoon_exit, then ``EXIT``; the module is unloaded.
  ``exit`` when not loaded records only its STEP.
* ``set_target``, ``host_reset``, ``set_totalram``: change the environment.

The run ends with ``ACCOUNT``. If the driver would loop forever (allocating
pages with PFNs >= 2**32, which vmballoon_reserve_page neither keeps nor
frees), the prediction stops at ``max_events`` with ``hung=True`` and no ACCOUNT.

The driver's behaviour comes from a *driver* object (``SpecDriver``: the
spec's algorithm, the default); the C front end (csource/) supplies another,
the interpreted C of a driver source, so both predict through this one step
loop.
"""
from __future__ import annotations

import gc
from dataclasses import dataclass, field

from . import algorithm as _interpreted
from . import debugfs as D
from .environment import (ACCOUNT, DEBUGFS_READ, EXIT, INIT, STEP, WORK_RUN, Environment,
                          ModelLimitExceeded, StopPrediction, StoppingList)
from .ops import CONCRETE
from .scenario import STEP_KINDS, Scenario
from .specialize import concrete_algorithm
from .state import Balloon

M64 = 0xFFFFFFFFFFFFFFFF
DEFAULT_MAX_EVENTS = 10_000_000
_WORK_RUN_EVENT = (WORK_RUN, 0, 0, 0, 0, 0, 0)


@dataclass
class Snapshot:
    """Model state at the start of a step (before its STEP event) or at the end
    of the run (``step_index == -1``)."""

    event_index: int
    step_index: int
    step_kind: str
    cycle: int  # number of work runs so far
    balloon: dict
    kernel: dict
    host: dict


@dataclass
class Prediction:
    events: list
    snapshots: list[Snapshot] = field(default_factory=list)
    account: tuple | None = None
    balloon: Balloon | None = None  # the spec's state (None when the driver is not the spec)
    env: Environment | None = None
    hung: bool = False
    stopped: bool = False  # stopped early at stop_at
    driver: object = None

    def snapshot_for(self, event_index: int) -> Snapshot | None:
        """The last step-boundary snapshot at or before ``event_index``."""
        best = None
        for s in self.snapshots:
            if s.event_index <= event_index:
                best = s
            else:
                break
        return best


class SpecDriver:
    """The spec's algorithm as the driver behaviour predict() runs: the
    driver's static state (a state.Balloon) and the C entry points, each
    taking the environment."""

    environment = Environment  # the environment class a prediction builds

    def __init__(self, interpreted: bool = False) -> None:
        self.A = _interpreted if interpreted else concrete_algorithm()
        self.balloon = Balloon(CONCRETE)

    def reload(self) -> None:
        """A fresh module load: the statics start zeroed."""
        self.balloon = Balloon(CONCRETE)

    def init(self, env, debugfs: bool) -> int:
        return self.A.init(CONCRETE, self.balloon, env, debugfs=debugfs)

    def work(self, env) -> None:
        self.A.work(CONCRETE, self.balloon, env)

    def exit(self, env, debugfs: bool) -> None:
        self.A.exit(CONCRETE, self.balloon, env, debugfs=debugfs)

    def debugfs_text(self, env) -> str:
        return D.show(self.balloon)

    def summary(self) -> dict:
        return self.balloon.summary()


def _snapshot(env: Environment, driver, idx: int, kind: str, cycle: int) -> Snapshot:
    h = env.host
    return Snapshot(len(env.events), idx, kind, cycle, driver.summary(), env.kernel.summary(),
                    {"target": h.target, "reset_pending": h.reset_pending, "locked": len(h.locked),
                     "totalram": env.totalram})


def predict(scenario: Scenario, *, debugfs: bool = True, max_events: int = DEFAULT_MAX_EVENTS,
            stop_at: int | None = None, interpreted: bool = False, register_bits: int = 32,
            statics_survive_reload: bool = True, driver=None) -> Prediction:
    """Predict the trace of the seed driver under ``scenario``.

    ``debugfs``: the build has CONFIG_DEBUG_FS (no DEBUGFS_* events otherwise).
    ``stop_at``: stop once ``stop_at`` events are recorded (the Prediction then
    holds the model state at that point, for diagnostics).
    ``interpreted``: run model/algorithm.py through ops.CONCRETE instead of its
    specialized (inlined, same source) form: slower, for cross-checking.
    ``register_bits``: the width of the host's reply registers: 32 (eax/ebx,
    both backends); 64 models a host that writes rax/rbx whole.
    ``statics_survive_reload``: see the module doc (True: userspace harness).
    ``driver``: the driver behaviour (default: ``SpecDriver(interpreted)``)."""
    if driver is None:
        driver = SpecDriver(interpreted)
    events = StoppingList(stop_at) if stop_at is not None else []
    env = driver.environment(scenario, max_events=max_events, events=events, register_bits=register_bits)
    kernel = env.kernel
    pred = Prediction(events=events, balloon=getattr(driver, "balloon", None), env=env, driver=driver)
    cycle = 0
    gc_was_enabled = gc.isenabled()
    gc.disable()  # the trace is millions of tuples; no cycles are created
    try:
        for idx, step in enumerate(scenario.steps):
            kind = step.kind
            env.begin_step(idx)
            pred.snapshots.append(_snapshot(env, driver, idx, kind, cycle))
            events.append((STEP, idx, STEP_KINDS[kind], step.arg, 0, 0, 0))
            if kind == "cycle":
                if kernel.work_pending:
                    kernel.work_pending = False
                    cycle += 1
                    events.append(_WORK_RUN_EVENT)
                    driver.work(env)
            elif kind == "init":
                if not kernel.module_loaded:
                    if not statics_survive_reload:
                        driver.reload()
                        pred.balloon = getattr(driver, "balloon", None)
                    rc = driver.init(env, debugfs)
                    events.append((INIT, rc & M64, 0, 0, 0, 0, 0))
                    kernel.module_loaded = rc == 0
            elif kind == "debugfs":
                if kernel.debugfs_present:
                    events.append((DEBUGFS_READ, driver.debugfs_text(env), 0, 0, 0, 0, 0))
            elif kind == "exit":
                if kernel.module_loaded:
                    driver.exit(env, debugfs)
                    events.append((EXIT, 0, 0, 0, 0, 0, 0))
                    kernel.module_loaded = False
            elif kind == "set_target":
                env.host.target = step.arg
            elif kind == "host_reset":
                env.host.host_reset()
            elif kind == "set_totalram":
                env.totalram = step.arg
        pred.snapshots.append(_snapshot(env, driver, -1, "end", cycle))
        pred.account = env.account()
        events.append((ACCOUNT, *pred.account))
    except ModelLimitExceeded:
        pred.hung = True
    except StopPrediction:
        pred.stopped = True
    finally:
        if gc_was_enabled:
            gc.enable()
    return pred


def state_at(scenario: Scenario, event_index: int, *, debugfs: bool = True, **options) -> Prediction:
    """Re-run the prediction up to (excluding) event ``event_index``: the model
    state just after the driver produced event ``event_index - 1``."""
    return predict(scenario, debugfs=debugfs, stop_at=event_index, **options)
