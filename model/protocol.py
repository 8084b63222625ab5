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


@dataclass
class StrictHost:
    """The protocol's state machine as a strict host enforces it (specs/protocol.md).

    State: started, guest_id (announced type or None), locked PPNs, target,
    reset_pending. ``call(cmd, arg) -> (status, result)``:

    * START(v): v != PROTOCOL_VERSION -> ERROR_CMD_INVALID; else SUCCESS:
      started, reset cleared, locks and guest id forgotten.
    * any other command before START or while a reset is pending -> ERROR_RESET.
    * GUEST_ID(t): SUCCESS, guest_id = t.
    * GET_TARGET(limit): SUCCESS, result = target.
    * LOCK(ppn): already locked -> ERROR_PPN_LOCKED; else SUCCESS, locked.
    * UNLOCK(ppn): not locked -> ERROR_PPN_UNLOCKED; else SUCCESS, unlocked.
    * unknown command -> ERROR_CMD_INVALID.
    """

    target: int = 0
    started: bool = False
    guest_id: int | None = None
    reset_pending: bool = False
    locked: set = field(default_factory=set)

    def call(self, cmd: int, arg: int) -> tuple[int, int]:
        if cmd == CMD_START:
            if arg != C.VMW_BALLOON_PROTOCOL_VERSION:
                return ERROR_CMD_INVALID, 0
            self.started, self.reset_pending, self.guest_id = True, False, None
            self.locked.clear()
            return SUCCESS, 0
        if cmd not in COMMANDS:
            return ERROR_CMD_INVALID, 0
        if not self.started or self.reset_pending:
            return ERROR_RESET, 0
        if cmd == CMD_GUEST_ID:
            self.guest_id = arg
            return SUCCESS, 0
        if cmd == CMD_GET_TARGET:
            return SUCCESS, self.target
        if cmd == CMD_LOCK:
            if arg in self.locked:
                return ERROR_PPN_LOCKED, 0
            self.locked.add(arg)
            return SUCCESS, 0
        if arg not in self.locked:  # UNLOCK
            return ERROR_PPN_UNLOCKED, 0
        self.locked.discard(arg)
        return SUCCESS, 0

    def host_reset(self) -> None:
        self.reset_pending = True
