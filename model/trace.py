"""The observable-trace contract (specs/trace.md section 2): event kinds, the
step kinds a STEP event reports, field names, and a pretty-printer. It belongs
to the spec; the backends produce traces in this form and the conformance
suite compares them."""
from __future__ import annotations

from enum import IntEnum


class Kind(IntEnum):
    BACKDOOR = 1
    ALLOC = 2
    FREE = 3
    COND_RESCHED = 4
    QUEUE_WORK = 5
    CANCEL_WORK = 6
    SI_MEMINFO = 7
    DEBUGFS_CREATE = 8
    DEBUGFS_READ = 9
    DEBUGFS_REMOVE = 10
    INIT = 11
    EXIT = 12
    PRINTK = 13
    WORK_RUN = 14
    STEP = 15
    ACCOUNT = 16


# Tuple positions (1 = f1) that carry text, by kind.
TEXT_FIELDS = {Kind.DEBUGFS_CREATE: (2,), Kind.DEBUGFS_READ: (1,), Kind.PRINTK: (1,)}

COMMANDS = {0: "START", 1: "GET_TARGET", 2: "LOCK", 3: "UNLOCK", 4: "GUEST_ID"}
# Step kind -> the number the STEP event reports; STEP_NAMES is the reverse.
STEP_KINDS = {"init": 1, "cycle": 2, "debugfs": 3, "exit": 4, "set_target": 5,
              "host_reset": 6, "set_totalram": 7}
STEP_NAMES = {v: k for k, v in STEP_KINDS.items()}

FIELD_NAMES = {
    Kind.BACKDOOR: ("magic", "cmd", "arg", "port", "status", "result"),
    Kind.ALLOC: ("gfp", "ok", "pfn"),
    Kind.FREE: ("pfn", "bad"),
    Kind.QUEUE_WORK: ("delay", "wq"),
    Kind.CANCEL_WORK: ("was_pending",),
    Kind.DEBUGFS_CREATE: ("mode", "name", "result"),
    Kind.DEBUGFS_READ: ("text",),
    Kind.INIT: ("rc",),
    Kind.PRINTK: ("text",),
    Kind.STEP: ("index", "kind", "arg"),
    Kind.ACCOUNT: ("allocated", "freed", "held", "locked", "leaked", "bad_frees"),
}


HEX_FIELDS = {(Kind.BACKDOOR, "magic"), (Kind.BACKDOOR, "arg"), (Kind.BACKDOOR, "port"),
              (Kind.ALLOC, "gfp"), (Kind.ALLOC, "pfn"), (Kind.FREE, "pfn")}
SIGNED_FIELDS = {(Kind.INIT, "rc"), (Kind.DEBUGFS_CREATE, "result")}


def _field(kind: Kind, name: str, v) -> str:
    if isinstance(v, str):
        return repr(v)
    if kind is Kind.BACKDOOR and name == "cmd":
        return COMMANDS.get(v, str(v))
    if kind is Kind.STEP and name == "kind":
        return STEP_NAMES.get(v, str(v))
    if kind is Kind.DEBUGFS_CREATE and name == "mode":
        return oct(v)
    if (kind, name) in HEX_FIELDS:
        return hex(v)
    if (kind, name) in SIGNED_FIELDS and v >= 1 << 63:
        return str(v - (1 << 64))
    return str(v)


def format_event(event: tuple) -> str:
    """One line, e.g. `BACKDOOR magic=0x456c6d6f cmd=LOCK arg=0x10000 ... status=0 result=0`."""
    kind = Kind(event[0])
    names = FIELD_NAMES.get(kind, ())
    return " ".join([kind.name] + [f"{n}={_field(kind, n, v)}" for n, v in zip(names, event[1:])])


