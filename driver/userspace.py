"""Run a scenario script against a userspace driver build (build.py), each
run in its own process, so a crash, hang or sanitizer report is a verdict
about the driver rather than the end of the campaign."""
from __future__ import annotations

import gc
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from balloonspec.model.trace import TEXT_FIELDS, Kind

VERDICTS = ("ok", "crash", "hang", "sanitizer", "abort", "error")
CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL}
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "UndefinedBehaviorSanitizer", ": runtime error: ")
SANITIZER_ENV = {
    "ASAN_OPTIONS": "detect_leaks=0:allow_user_segv_handler=1",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
}
STDERR_TAIL = 4000
TERM_GRACE_S = 2.0  # after SIGTERM (which flushes the trace) before SIGKILL


@dataclass
class RunResult:
    verdict: str
    events: list[tuple]
    stderr_tail: str
    returncode: int | None  # None when the run was killed for hanging
    scenario_id: str | None = None
    records: np.ndarray = field(default=None, repr=False)  # raw (n, 7) uint64 trace


def read_records(trace: Path) -> np.ndarray:
    raw = trace.read_bytes()
    usable = len(raw) // 56 * 56  # a crash can cut the last record short
    return np.frombuffer(raw[:usable], dtype="<u8").reshape(-1, 7)


def decode(records: np.ndarray, text: bytes) -> list[tuple]:
    """Events as tuples, with text fields replaced by `str`."""
    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of new ints and tuples, no cycles: collections would only cost
    try:
        events = list(map(tuple, records.tolist()))
    finally:
        if gc_was_enabled:
            gc.enable()
    kinds = records[:, 0] if len(records) else records
    for kind, positions in TEXT_FIELDS.items():
        for i in np.flatnonzero(kinds == kind).tolist():
            ev = list(events[i])
            for pos in positions:
                off, length = ev[pos] >> 32, ev[pos] & 0xFFFFFFFF
                ev[pos] = text[off:off + length].decode("utf-8", "backslashreplace")
            events[i] = tuple(ev)
    return events


def _verdict(returncode: int | None, stderr: str, records: np.ndarray) -> str:
    if returncode is None:
        return "hang"
    if any(m in stderr for m in SANITIZER_MARKERS):
        return "sanitizer"
    if returncode == 0:
        return "ok" if len(records) and records[-1, 0] == Kind.ACCOUNT else "error"
    if returncode == -signal.SIGABRT:
        return "abort"
    if returncode < 0 and -returncode in CRASH_SIGNALS:
        return "crash"
    return "error"


class Launch:
    """A driver run in progress: the caller can work (e.g. predict) meanwhile."""

    def __init__(self, binary: str | Path, script_text: str, *, timeout_s: float = 60.0,
                 scenario_id: str | None = None, env: dict[str, str] | None = None):
        self._tmp = tempfile.TemporaryDirectory(prefix="balloonspec-run-")
        self.dir = Path(self._tmp.name)
        self.scenario_id = scenario_id
        self.timeout_s = timeout_s
        (self.dir / "script").write_text(script_text)
        run_env = {**os.environ, **SANITIZER_ENV, **(env or {})}
        with open(self.dir / "stderr", "wb") as err:
            self.proc = subprocess.Popen([str(binary), "script", "trace", "text"], cwd=self.dir,
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=err, env=run_env)
        self.started = time.monotonic()
        self.deadline = self.started + timeout_s  # a caller may move it once it knows the work

    def _wait(self) -> int | None:
        try:
            return self.proc.wait(timeout=max(0.0, self.deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.proc.terminate()  # SIGTERM: the harness flushes its trace first
            try:
                self.proc.wait(timeout=TERM_GRACE_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            return None

    def collect(self, decode_events: bool = True) -> RunResult:
        try:
            returncode = self._wait()
            d = self.dir
            stderr = (d / "stderr").read_bytes()[-STDERR_TAIL:].decode("utf-8", "replace")
            trace, text = d / "trace", d / "text"
            records = read_records(trace) if trace.exists() else np.zeros((0, 7), dtype="<u8")
            events = decode(records, text.read_bytes() if text.exists() else b"") if decode_events else []
        finally:
            self._tmp.cleanup()
        return RunResult(_verdict(returncode, stderr, records), events, stderr, returncode,
                         self.scenario_id, records)


def run_scenario(binary: str | Path, script_text: str, *, timeout_s: float = 60.0,
                 scenario_id: str | None = None, env: dict[str, str] | None = None,
                 decode_events: bool = True) -> RunResult:
    """Run `binary` on `script_text`; `env` adds variables (e.g. BALLOONSPEC_BENCH).
    Huge runs can skip `events` (decode_events=False) and read `records`."""
    return Launch(binary, script_text, timeout_s=timeout_s, scenario_id=scenario_id,
                  env=env).collect(decode_events)
