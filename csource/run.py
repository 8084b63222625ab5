"""Scenarios run by the interpreted C: the trace a driver source predicts.

``CDriver`` is a driver behaviour for model/predict.py's step loop (the same
loop that runs the spec): module init and exit, the work item a ``cycle``
step runs, and the text a ``debugfs`` read gets, all by interpreting the
driver's own C. ``predict_c(path, scenario)`` is ``predict`` with it.

``CEnvironment`` is the scenario environment (model/environment.py) plus
what only a C driver can ask and the spec never does, recorded as the
userspace harness records it: the other fields of ``struct sysinfo``, a
backdoor call with a wrong magic or port (answered ``0xffffffff`` with ebx
unchanged), work queued on a workqueue the driver created (QUEUE_WORK's ``wq`` as
specs/trace.md numbers them: 3 for a freezable one).
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from balloonspec.model.environment import BACKDOOR, QUEUE_WORK, Environment
from balloonspec.model.ops import CONCRETE
from balloonspec.model.predict import DEFAULT_MAX_EVENTS, Prediction, predict
from balloonspec.model.scenario import Scenario

from .compile import Program, load
from .errors import CFrontError, DriverFault, Unsupported
from .lists import ListHead
from .runtime import Machine, StructObj

M64 = 0xFFFFFFFFFFFFFFFF
NO_REPLY = 0xFFFFFFFF


class CEnvironment(Environment):
    """The scenario environment of a C driver."""

    def sysinfo_fields(self) -> dict:
        return {k: v for k, v in asdict(self.scenario.sysinfo).items() if k != "totalram"}

    def backdoor_raw(self, magic: int, cmd: int, arg, port: int):
        a = int(arg) & M64
        self.events.append((BACKDOOR, magic, cmd, a, port, NO_REPLY, a))
        return NO_REPLY, arg

    def queue_delayed_work_on(self, wq: int, delay: int) -> None:
        self.events.append((QUEUE_WORK, delay, wq, 0, 0, 0, 0))
        self.kernel.work_pending = True


def _signed32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


class CDriver:
    """The interpreted C of one driver source as predict()'s driver behaviour."""

    environment = CEnvironment

    def __init__(self, program: Program, ops=CONCRETE) -> None:
        if program.init_function is None:
            raise Unsupported("no module_init() entry point", str(program.path))
        self.program = program
        self.ops = ops
        self.machine: Machine | None = None

    def _m(self, env) -> Machine:
        if self.machine is None:
            self.machine = Machine(self.program, self.ops, env)
        self.machine.env = env
        return self.machine

    def _check_config(self, debugfs: bool) -> None:
        if debugfs != self.program.debugfs:
            raise CFrontError(f"the program was compiled with CONFIG_DEBUG_FS {'on' if self.program.debugfs else 'off'}"
                              f" but the scenario runs with it {'on' if debugfs else 'off'}", str(self.program.path))

    def reload(self) -> None:
        self.machine = None

    def init(self, env, debugfs: bool) -> int:
        self._check_config(debugfs)
        rc = self._m(env).invoke(self.program.init_function)
        return _signed32(self.ops.as_int(rc))

    def work(self, env) -> None:
        M = self._m(env)
        dwork = M.kstate.queued
        if dwork is None:
            raise DriverFault("the work item ran but the driver queued none", str(self.program.path))
        M.kstate.queued = None
        work = dwork.f_work
        M.invoke(work.f_func, [work])

    def exit(self, env, debugfs: bool) -> None:
        if self.program.exit_function is None:
            raise Unsupported("no module_exit() entry point", str(self.program.path))
        self._m(env).invoke(self.program.exit_function)

    def debugfs_text(self, env) -> str:
        """Open, read whole and release the debugfs file, as the harness does:
        through the file's own fops (open must be single_open's, read seq_read)."""
        M = self._m(env)
        d = M.kstate.debugfs
        if d is None:
            return ""
        fops = d.fops
        inode, file = M.new_struct("inode"), M.new_struct("file")
        inode.f_i_private = d.data
        if self.ops.as_int(M.invoke(fops.f_open, [inode, file])) != 0:
            return ""
        read = fops.f_read
        if getattr(read, "name", None) != "seq_read":
            raise Unsupported(f"a debugfs file read through {read!r} (only seq_read is modelled)")
        seq = M.kstate.seq.get(id(file.f_private_data))
        if seq is None:
            raise DriverFault("the debugfs file's open did not call single_open")
        show, parts = seq
        err = M.invoke(show, [file.f_private_data, None])
        text = "" if self.ops.as_int(err) != 0 else "".join(parts)
        if fops.f_release is not None:
            M.invoke(fops.f_release, [inode, file])
        return text

    def summary(self) -> dict:
        """The driver's globals (struct members flattened; lists not walked)."""
        if self.machine is None:
            return {}
        out = {}
        for name, value in self.machine.globals.items():
            _flatten(name, value, out, 0)
        return out


def _flatten(prefix: str, v, out: dict, depth: int) -> None:
    if isinstance(v, StructObj) and depth < 3:
        for n, x in v.members().items():
            _flatten(f"{prefix}.{n}", x, out, depth + 1)
    elif isinstance(v, (int, bool)):
        out[prefix] = v
    elif isinstance(v, ListHead):
        pass
    elif v is None:
        out[prefix] = None


def predict_c(path: str | Path, scenario: Scenario, *, debugfs: bool = True,
              max_events: int = DEFAULT_MAX_EVENTS, **options) -> Prediction:
    """The trace the driver source at ``path`` produces under ``scenario``, by
    interpreting its C (raises a CFrontError subclass when it cannot)."""
    program = load(path, debugfs=debugfs)
    return predict(scenario, debugfs=debugfs, max_events=max_events, driver=CDriver(program), **options)
