"""The protocol's host state machines: the scripted default host of
specs/trace.md (used for prediction) and the strict host (for monitors)."""
from balloonspec.model.protocol import (CMD_GET_TARGET, CMD_GUEST_ID, CMD_LOCK, CMD_START, CMD_UNLOCK,
                                        COMMANDS, STATUS, ScriptedHost, StrictHost)


def test_every_command_and_status_is_named():
    assert [COMMANDS[c][0] for c in range(5)] == ["START", "GET_TARGET", "LOCK", "UNLOCK", "GUEST_ID"]
    assert STATUS[7][0] == "ERROR_RESET" and STATUS[0xFFFFFFFF][0] == "FAILURE" and len(STATUS) == 10


def test_scripted_host_is_lenient_and_tracks_locks():
    h = ScriptedHost(target=9)
    assert h.default_reply(CMD_LOCK, 5) == (0, 0)
    h.observe(CMD_LOCK, 5, 0)
    assert h.default_reply(CMD_LOCK, 5) == (0, 0)  # no PPN_LOCKED check
    assert h.default_reply(CMD_UNLOCK, 6) == (0, 0)  # no PPN_UNLOCKED check
    assert h.default_reply(CMD_GET_TARGET, 100) == (0, 9)
    assert h.default_reply(99, 0) == (1, 0)
    h.host_reset()
    assert h.default_reply(CMD_GET_TARGET, 100) == (7, 0)  # ebx 0 while a reset is pending
    assert h.default_reply(CMD_GUEST_ID, 1) == (7, 0)
    assert h.locked == {5}
    assert h.default_reply(CMD_START, 2) == (0, 0)
    h.observe(CMD_START, 2, 0)
    assert not h.reset_pending and h.locked == set()
    h.observe(CMD_GUEST_ID, 1, 7)  # a rule's ERROR_RESET also makes a reset pending
    assert h.reset_pending


def test_strict_host_state_machine():
    h = StrictHost(target=3)
    assert h.call(CMD_LOCK, 1) == (7, 0)  # not started
    assert h.call(CMD_START, 3) == (1, 0)  # wrong protocol version
    assert h.call(CMD_START, 2) == (0, 0)
    assert h.call(CMD_GUEST_ID, 1) == (0, 0) and h.guest_id == 1
    assert h.call(CMD_GET_TARGET, 1000) == (0, 3)
    assert h.call(CMD_LOCK, 1) == (0, 0)
    assert h.call(CMD_LOCK, 1) == (3, 0)  # ERROR_PPN_LOCKED
    assert h.call(CMD_UNLOCK, 2) == (4, 0)  # ERROR_PPN_UNLOCKED
    assert h.call(CMD_UNLOCK, 1) == (0, 0)
    h.call(CMD_LOCK, 8)
    h.host_reset()
    assert h.call(CMD_UNLOCK, 8) == (7, 0)
    assert h.call(CMD_START, 2) == (0, 0) and h.locked == set() and h.guest_id is None


def test_transition_table_is_complete_and_deterministic():
    """Every state answers every command (and the host's reset) for every argument
    with exactly one row, and every status is either a transition or a refusal."""
    from balloonspec.model.protocol import (GUARDS, HOST_RESET, HOST_STATES, OTHER, REFUSALS, TRANSITIONS)

    host = StrictHost()
    host.locked = {7}
    for state in HOST_STATES:
        for command in [*(n for n, _, _ in COMMANDS.values()), OTHER, HOST_RESET]:
            for arg in (2, 3, 7, 8):
                rows = [t for t in TRANSITIONS
                        if t.state == state and t.command == command and GUARDS[t.guard](host, arg)]
                assert len(rows) == 1, (state, command, arg, rows)
                assert rows[0].next in HOST_STATES
    named = {t.status for t in TRANSITIONS} | {s for ss in REFUSALS.values() for s in ss}
    assert named - {None} == {name for name, _ in STATUS.values()}
