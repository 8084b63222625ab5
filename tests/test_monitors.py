"""Each protocol monitor fires on a trace that breaks it, and stays quiet on a good one."""
import pytest

from balloonspec.model import monitors
from balloonspec.model.trace import Kind
from balloonspec.model import constants as C

MAGIC, PORT = C.VMW_BALLOON_HV_MAGIC, C.VMW_BALLOON_HV_PORT
START, TARGET, LOCK, UNLOCK, GUEST = 0, 1, 2, 3, 4


def call(cmd, arg=0, status=0, result=0, magic=MAGIC, port=PORT):
    return (int(Kind.BACKDOOR), magic, cmd, arg, port, status, result)


def alloc(pfn):
    return (int(Kind.ALLOC), 0x2002, 1, pfn, 0, 0, 0)


def free(pfn, how=0):
    return (int(Kind.FREE), pfn, how, 0, 0, 0, 0)


EXIT = (int(Kind.EXIT), 0, 0, 0, 0, 0, 0)
ACCOUNT = (int(Kind.ACCOUNT), 0, 0, 0, 0, 0, 0)
GOOD = [call(START, 2), call(GUEST, 1), call(TARGET, 100, result=1), alloc(7), call(LOCK, 7),
        call(TARGET, 100), call(UNLOCK, 7), free(7), call(START, 2), EXIT, ACCOUNT]


def test_a_good_trace_breaks_nothing():
    assert monitors.check(GOOD, totalram=100) == []


BAD = {
    "PROTO-ABI": [call(START, 2, magic=1)],
    "PROTO-START-FIRST": [call(GUEST, 1)],
    "PROTO-RESET-RESTART": [call(START, 2), alloc(7), call(TARGET, 100, status=7), call(LOCK, 7)],
    "PROTO-NO-DOUBLE-LOCK": [call(START, 2), alloc(7), call(LOCK, 7), call(LOCK, 7)],
    "PROTO-UNLOCK-LOCKED": [call(START, 2), alloc(7), call(UNLOCK, 7)],
    "PROTO-OWNED-PAGES": [call(START, 2), call(LOCK, 9)],
    "PROTO-TARGET-LIMIT": [call(START, 2), call(TARGET, 99)],
    "MEM-NO-FREE-LOCKED": [call(START, 2), alloc(7), call(LOCK, 7), free(7)],
    "MEM-GOOD-FREES": [free(0, how=2)],
    "MEM-NO-LEAK": [call(START, 2), alloc(7), ACCOUNT],
    "MEM-EXIT-RELEASES": [call(START, 2), alloc(7), call(LOCK, 7), EXIT, ACCOUNT],
}


def test_every_monitor_has_a_breaking_trace():
    assert set(BAD) == set(monitors.MONITORS)


@pytest.mark.parametrize("monitor", sorted(BAD))
def test_monitor_fires(monitor):
    found = monitors.check(BAD[monitor], totalram=100)
    assert monitor in {v.monitor for v in found}
    v = next(v for v in found if v.monitor == monitor)
    assert v.index == len(BAD[monitor]) - 1, v  # the breaking event is each trace's last


def test_a_restart_after_reset_allows_locking_again():
    trace = [call(START, 2), alloc(7), call(TARGET, 100, status=7), call(START, 2), call(LOCK, 7), ACCOUNT]
    assert monitors.check(trace, totalram=100) == []


def test_a_step_event_prints_its_kind_by_name():
    from balloonspec.model.trace import STEP_KINDS, format_event

    line = format_event((int(Kind.STEP), 3, STEP_KINDS["cycle"], 0, 0, 0, 0))
    assert "kind=cycle" in line, line
