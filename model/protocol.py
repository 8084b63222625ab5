"""The balloon backdoor protocol, version 2 (as the seed driver speaks it).

ABI: the guest executes ``inl (%dx)`` with

=========  =============================  ==========================================
register   in                             out
=========  =============================  ==========================================
eax        VMW_BALLOON_HV_MAGIC           status (see STATUS)
ecx        command (see COMMANDS)         (clobbered)
edx        VMW_BALLOON_HV_PORT (0x5670)   (clobbered)
ebx        the command's argument         the command's result
=========  =============================  ==========================================

Two hosts are described here:

* ``ScriptedHost``: the *default host* of specs/trace.md that scenario runs use
  (lenient: LOCK/UNLOCK succeed without looking at the lock state). The
  prediction uses it, so it must match the backends' host exactly.
* ``StrictHost``: the protocol's state machine as a real host enforces it
  (LOCK of a locked PPN -> ERROR_PPN_LOCKED, UNLOCK of an unlocked PPN ->
  ERROR_PPN_UNLOCKED, nothing but START before the protocol is started or
  while a reset is pending): the reference transitions of specs/protocol.md.
  The guest's obligations are checked over traces by model/monitors.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import constants as C

MAGIC = C.VMW_BALLOON_HV_MAGIC
PORT = C.VMW_BALLOON_HV_PORT

# command -> (name, argument, result)
COMMANDS = {
    C.VMW_BALLOON_CMD_START: ("START", "protocol version (2)", "none"),
    C.VMW_BALLOON_CMD_GET_TARGET: ("GET_TARGET", "guest totalram in pages (must fit 32 bits)",
                                   "target balloon size in pages"),
    C.VMW_BALLOON_CMD_LOCK: ("LOCK", "PPN to hand to the host (32 bits)", "none"),
    C.VMW_BALLOON_CMD_UNLOCK: ("UNLOCK", "PPN to take back from the host (32 bits)", "none"),
    C.VMW_BALLOON_CMD_GUEST_ID: ("GUEST_ID", "guest type (1 = Linux)", "none"),
}

# status -> (name, meaning)
STATUS = {
    C.VMW_BALLOON_SUCCESS: ("SUCCESS", "the command was carried out"),
    C.VMW_BALLOON_FAILURE & 0xFFFFFFFF: ("FAILURE", "generic failure (-1)"),
    C.VMW_BALLOON_ERROR_CMD_INVALID: ("ERROR_CMD_INVALID", "unknown command"),
    C.VMW_BALLOON_ERROR_PPN_INVALID: ("ERROR_PPN_INVALID", "the PPN is not a guest page"),
    C.VMW_BALLOON_ERROR_PPN_LOCKED: ("ERROR_PPN_LOCKED", "LOCK of a PPN the host already holds"),
    C.VMW_BALLOON_ERROR_PPN_UNLOCKED: ("ERROR_PPN_UNLOCKED", "UNLOCK of a PPN the host does not hold"),
    C.VMW_BALLOON_ERROR_PPN_PINNED: ("ERROR_PPN_PINNED", "the page cannot be ballooned (pinned)"),
    C.VMW_BALLOON_ERROR_PPN_NOTNEEDED: ("ERROR_PPN_NOTNEEDED", "the host needs no more pages"),
    C.VMW_BALLOON_ERROR_RESET: ("ERROR_RESET", "the host forgot the guest: restart with START"),
    C.VMW_BALLOON_ERROR_BUSY: ("ERROR_BUSY", "the host is busy, retry later"),
}

CMD_START = C.VMW_BALLOON_CMD_START
CMD_GET_TARGET = C.VMW_BALLOON_CMD_GET_TARGET
CMD_LOCK = C.VMW_BALLOON_CMD_LOCK
CMD_UNLOCK = C.VMW_BALLOON_CMD_UNLOCK
CMD_GUEST_ID = C.VMW_BALLOON_CMD_GUEST_ID
SUCCESS = C.VMW_BALLOON_SUCCESS
ERROR_RESET = C.VMW_BALLOON_ERROR_RESET
ERROR_CMD_INVALID = C.VMW_BALLOON_ERROR_CMD_INVALID
ERROR_PPN_LOCKED = C.VMW_BALLOON_ERROR_PPN_LOCKED
ERROR_PPN_UNLOCKED = C.VMW_BALLOON_ERROR_PPN_UNLOCKED
WRONG_MAGIC_OR_PORT = 0xFFFFFFFF


@dataclass
class ScriptedHost:
    """The default host of specs/trace.md ("Default host (no rule matches)").

    ``default_reply`` answers a call no rule matched; ``observe`` applies the
    effects of *any* reply (rule or default) to the host state:
    a reply ERROR_RESET makes a reset pending; a START answered SUCCESS clears
    it and forgets every locked PPN; LOCK/UNLOCK answered SUCCESS add/remove
    the PPN from ``locked`` (which ACCOUNT's "held & host-locked" counts).
    ``host_reset`` (step) only makes a reset pending.

    Results (ebx) not stated by specs/trace.md are 0, as the backends answer
    (driver/userspace/script.c): START, any reply while a reset is pending
    (even to GET_TARGET), ERROR_CMD_INVALID. ``default_result`` (a rule's
    RESULT "-") is the current target for GET_TARGET, else 0.
    """

    target: int = 0
    reset_pending: bool = False
    locked: set = field(default_factory=set)

    def default_reply(self, cmd: int, arg: int) -> tuple[int, int]:
        if cmd == CMD_START:
            return SUCCESS, 0
        if self.reset_pending:
            return ERROR_RESET, 0
        if cmd == CMD_GET_TARGET:
            return SUCCESS, self.target
        if cmd in COMMANDS:
            return SUCCESS, 0
        return ERROR_CMD_INVALID, 0

    def default_result(self, cmd: int) -> int:
        """RESULT '-' of a host rule: the current target for GET_TARGET, else 0."""
        return self.target if cmd == CMD_GET_TARGET else 0

    def observe(self, cmd: int, arg: int, status: int) -> None:
        if status == ERROR_RESET:
            self.reset_pending = True
        elif status == SUCCESS:
            if cmd == CMD_START:
                self.reset_pending = False
                self.locked.clear()
            elif cmd == CMD_LOCK:
                self.locked.add(arg)
            elif cmd == CMD_UNLOCK:
                self.locked.discard(arg)

    def host_reset(self) -> None:
        self.reset_pending = True


# -- the host's state machine, as data ---------------------------------------------------
# StrictHost runs these rows and specs/protocol.md draws them (balloonspec/docs):
# one table, so the diagram cannot drift from the host the tests use.
HOST_STATES = {
    "not started": "no START has succeeded yet",
    "started": "a START succeeded and no reset happened since",
    "reset pending": "the host forgot the guest (its locks too) and waits for START",
}
INITIAL_STATE = "not started"
OTHER = "other"  # a command outside v2
HOST_RESET = "host reset"  # the host's own move (no command, no reply)

# guard name -> predicate over (host, argument)
GUARDS = {
    "": lambda h, arg: True,
    "v = 2": lambda h, arg: arg == C.VMW_BALLOON_PROTOCOL_VERSION,
    "v != 2": lambda h, arg: arg != C.VMW_BALLOON_PROTOCOL_VERSION,
    "ppn locked": lambda h, arg: arg in h.locked,
    "ppn not locked": lambda h, arg: arg not in h.locked,
}


def _forget(h, arg):
    h.locked.clear()
    h.guest_id = None


# effect name -> what it does to the host's data (the state name is the row's `next`)
EFFECTS = {
    "": lambda h, arg: None,
    "forget locks and guest id": _forget,
    "guest id = t": lambda h, arg: setattr(h, "guest_id", arg),
    "lock ppn": lambda h, arg: h.locked.add(arg),
    "unlock ppn": lambda h, arg: h.locked.discard(arg),
}


@dataclass(frozen=True)
class Transition:
    """In ``state``, ``command`` (a COMMANDS name, OTHER or HOST_RESET) whose
    argument satisfies ``guard`` is answered ``status`` (a STATUS name; None for
    the host's own move), with ``result`` in ebx ("target" or 0), applies
    ``effect`` and moves to ``next``."""

    state: str
    command: str
    guard: str
    status: str | None
    next: str
    effect: str = ""
    result: str = ""


def _rows() -> tuple[Transition, ...]:
    T = Transition
    rows = []
    for st in HOST_STATES:
        rows += [T(st, "START", "v = 2", "SUCCESS", "started", "forget locks and guest id"),
                 T(st, "START", "v != 2", "ERROR_CMD_INVALID", st),
                 T(st, OTHER, "", "ERROR_CMD_INVALID", st)]
        if st != "started":
            rows += [T(st, cmd, "", "ERROR_RESET", st) for cmd in ("GUEST_ID", "GET_TARGET", "LOCK", "UNLOCK")]
    rows += [
        T("started", "GUEST_ID", "", "SUCCESS", "started", "guest id = t"),
        T("started", "GET_TARGET", "", "SUCCESS", "started", result="target"),
        T("started", "LOCK", "ppn not locked", "SUCCESS", "started", "lock ppn"),
        T("started", "LOCK", "ppn locked", "ERROR_PPN_LOCKED", "started"),
        T("started", "UNLOCK", "ppn locked", "SUCCESS", "started", "unlock ppn"),
        T("started", "UNLOCK", "ppn not locked", "ERROR_PPN_UNLOCKED", "started"),
        T("started", HOST_RESET, "", None, "reset pending", "forget locks and guest id"),
        T("reset pending", HOST_RESET, "", None, "reset pending"),
        T("not started", HOST_RESET, "", None, "not started"),
    ]
    return tuple(rows)


TRANSITIONS = _rows()

# Refusals a host may answer at its own discretion in the started state
# (nothing changes); StrictHost never gives them, scenarios inject them with
# host rules (specs/trace.md). Every STATUS appears in TRANSITIONS or here.
REFUSALS = {
    "START": ("ERROR_BUSY", "FAILURE"),
    "GUEST_ID": ("ERROR_BUSY", "FAILURE"),
    "GET_TARGET": ("ERROR_BUSY", "FAILURE"),
    "LOCK": ("ERROR_PPN_INVALID", "ERROR_PPN_PINNED", "ERROR_PPN_NOTNEEDED", "ERROR_BUSY", "FAILURE"),
    "UNLOCK": ("ERROR_PPN_INVALID", "ERROR_PPN_PINNED", "ERROR_BUSY", "FAILURE"),
}
STATUS_CODE = {name: code for code, (name, _) in STATUS.items()}
COMMAND_NAME = {code: name for code, (name, _, _) in COMMANDS.items()}


@dataclass
class StrictHost:
    """The protocol's state machine as a strict host enforces it (specs/protocol.md).

    It runs TRANSITIONS: the first row for the current state, the command's
    name and a guard the argument satisfies answers the call. State: ``state``
    (a HOST_STATES name), guest_id (announced type or None), locked PPNs,
    target. ``call(cmd, arg) -> (status, result)``; ``host_reset()`` is the
    host's own move.
    """

    target: int = 0
    state: str = INITIAL_STATE
    guest_id: int | None = None
    locked: set = field(default_factory=set)

    @property
    def started(self) -> bool:
        return self.state != INITIAL_STATE

    @property
    def reset_pending(self) -> bool:
        return self.state == "reset pending"

    def _fire(self, command: str, arg: int) -> Transition:
        for t in TRANSITIONS:
            if t.state == self.state and t.command == command and GUARDS[t.guard](self, arg):
                EFFECTS[t.effect](self, arg)
                self.state = t.next
                return t
        raise ValueError(f"no transition for {command} in state {self.state!r}")

    def call(self, cmd: int, arg: int) -> tuple[int, int]:
        t = self._fire(COMMAND_NAME.get(cmd, OTHER), arg)
        return STATUS_CODE[t.status], (self.target if t.result == "target" else 0)

    def host_reset(self) -> None:
        self._fire(HOST_RESET, 0)
