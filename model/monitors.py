"""Protocol monitors: checks over an observed trace that need no model.

They hold for any driver speaking the v2 backdoor protocol, whatever its
algorithm, so they also judge other driver versions and binary modules
(`--level protocol`). Each monitor reports the first event that breaks it.

The host's view of locked pages follows the protocol: a successful LOCK locks
a PPN, a successful UNLOCK unlocks it, and a host reset (an ERROR_RESET reply,
a `host_reset` step) or a successful START forgets every lock.
"""
from __future__ import annotations

from dataclasses import dataclass

from balloonspec.model.trace import Kind, format_event as describe
from balloonspec.model.trace import COMMANDS
from balloonspec.model import constants as C

STEP_HOST_RESET, STEP_SET_TOTALRAM = 6, 7


def _name(cmd: int) -> str:
    return COMMANDS.get(cmd, f"command {cmd}")


@dataclass(frozen=True)
class Violation:
    monitor: str
    index: int
    message: str
    event: tuple

    def to_json(self) -> dict:
        return {"monitor": self.monitor, "index": self.index, "message": self.message, "event": describe(self.event)}


# monitor id -> what it demands (specs/invariants.md uses the same ids)
MONITORS = {
    "PROTO-ABI": "every backdoor call carries the magic in eax and the port in dx",
    "PROTO-START-FIRST": "no v2 command other than START before the protocol is started",
    "PROTO-RESET-RESTART": "after a RESET, no LOCK or UNLOCK before a START succeeds",
    "PROTO-NO-DOUBLE-LOCK": "no LOCK of a PPN the host holds locked",
    "PROTO-UNLOCK-LOCKED": "no UNLOCK of a PPN the host does not hold locked",
    "PROTO-OWNED-PAGES": "LOCK and UNLOCK only name pages the driver holds",
    "PROTO-TARGET-LIMIT": "GET_TARGET's argument is the guest's totalram",
    "MEM-NO-FREE-LOCKED": "no page is given back to the guest while the host holds it locked",
    "MEM-GOOD-FREES": "no double free and no free of a page the allocator never gave",
    "MEM-NO-LEAK": "at the end every page the driver holds is locked by the host (none leaked)",
    "MEM-EXIT-RELEASES": "after module exit the driver holds no page",
}


# Monitors that need the allocator's events (ALLOC, FREE, ACCOUNT) to judge.
MEMORY_MONITORS = {"PROTO-OWNED-PAGES", "MEM-NO-FREE-LOCKED", "MEM-GOOD-FREES", "MEM-NO-LEAK", "MEM-EXIT-RELEASES"}


def check(events: list[tuple], totalram: int | None = None, memory: bool = True) -> list[Violation]:
    """All monitors over one trace; at most one violation per monitor (its first).

    memory=False: the trace has no allocator events (the in-kernel backend
    sees only the host's side), so the monitors that need them are off."""
    found: dict[str, Violation] = {}

    def flag(monitor: str, i: int, msg: str) -> None:
        if monitor not in found and (memory or monitor not in MEMORY_MONITORS):
            found[monitor] = Violation(monitor, i, msg, events[i])

    held: set[int] = set()  # PFNs allocated and not freed
    locked: set[int] = set()  # PPNs the host holds locked
    started = False
    reset_pending = False
    exited = False
    for i, e in enumerate(events):
        kind = e[0]
        if kind == Kind.BACKDOOR:
            _, eax, cmd, arg, port, status, result = e
            if eax & 0xFFFFFFFF != C.VMW_BALLOON_HV_MAGIC or port & 0xFFFF != C.VMW_BALLOON_HV_PORT:
                flag("PROTO-ABI", i, f"backdoor call with eax={eax:#x} port={port:#x}")
                continue
            # Commands outside v2 (a later revision probing for features) get
            # ERROR_CMD_INVALID from a v2 host and change nothing: not judged here.
            if cmd in COMMANDS and cmd != C.VMW_BALLOON_CMD_START and not started:
                flag("PROTO-START-FIRST", i, f"{_name(cmd)} before a successful START")
            if cmd == C.VMW_BALLOON_CMD_START:
                if status == C.VMW_BALLOON_SUCCESS:
                    started, reset_pending = True, False
                    locked.clear()
            elif cmd in (C.VMW_BALLOON_CMD_LOCK, C.VMW_BALLOON_CMD_UNLOCK):
                if reset_pending:
                    flag("PROTO-RESET-RESTART", i, f"{_name(cmd)} after a RESET without a successful START")
                if arg not in held:
                    flag("PROTO-OWNED-PAGES", i, f"{_name(cmd)} of PPN {arg:#x} the driver does not hold")
                if cmd == C.VMW_BALLOON_CMD_LOCK:
                    if arg in locked:
                        flag("PROTO-NO-DOUBLE-LOCK", i, f"LOCK of PPN {arg:#x}, already locked")
                    if status == C.VMW_BALLOON_SUCCESS:
                        locked.add(arg)
                else:
                    if arg not in locked:
                        flag("PROTO-UNLOCK-LOCKED", i, f"UNLOCK of PPN {arg:#x}, not locked")
                    if status == C.VMW_BALLOON_SUCCESS:
                        locked.discard(arg)
            elif cmd == C.VMW_BALLOON_CMD_GET_TARGET and totalram is not None and arg != totalram:
                flag("PROTO-TARGET-LIMIT", i, f"GET_TARGET limit {arg} but totalram is {totalram}")
            if status == C.VMW_BALLOON_ERROR_RESET:
                reset_pending = True
                locked.clear()
        elif kind == Kind.ALLOC:
            if e[2]:
                held.add(e[3])
        elif kind == Kind.FREE:
            pfn, how = e[1], e[2]
            if how != 0:
                flag("MEM-GOOD-FREES", i, "double free" if how == 1 else "free of a foreign page")
                continue
            if pfn in locked:
                flag("MEM-NO-FREE-LOCKED", i, f"page {pfn:#x} freed while the host holds it locked")
            held.discard(pfn)
        elif kind == Kind.STEP and e[2] == STEP_HOST_RESET:
            reset_pending = True
            locked.clear()
        elif kind == Kind.STEP and e[2] == STEP_SET_TOTALRAM and totalram is not None:
            totalram = e[3]
        elif kind == Kind.EXIT:
            exited = True
        elif kind == Kind.ACCOUNT:
            # Judged from the trace itself, in the host's view of locks above.
            leaked = held - locked
            if leaked and not exited:
                flag("MEM-NO-LEAK", i, f"{len(leaked)} page(s) held by the driver but not locked by the host, "
                     f"e.g. PFN {min(leaked):#x}")
            if exited and held:
                flag("MEM-EXIT-RELEASES", i, f"{len(held)} page(s) still held after module exit, e.g. PFN {min(held):#x}")
    return sorted(found.values(), key=lambda v: v.index)
