"""The text of the debugfs file ``vmmemctl``: vmballoon_debug_show, byte for byte.

The size and rate lines print ``unsigned int`` members with ``%8d``, i.e. as a
signed int: a value >= 2**31 shows negative (a defect kept as is). The stats
lines use ``%8u`` / ``%4u``. The last three lines print, in this order,
stats.free ("primFree"), stats.refused_alloc ("errAlloc") and
stats.refused_free ("errFree").
"""
from __future__ import annotations

from . import constants as C


def _d(v: int) -> int:
    """printf %d of a 32-bit value (reinterpreted as a signed int)."""
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def show(b) -> str:
    """vmballoon_debug_show for a concrete state.Balloon."""
    s = b.stats
    return (
        "target:             %8d pages\n"
        "current:            %8d pages\n" % (_d(b.target), _d(b.size))
    ) + (
        "rateNoSleepAlloc:   %8d pages/sec\n"
        "rateSleepAlloc:     %8d pages/sec\n"
        "rateFree:           %8d pages/sec\n"
        % (_d(C.VMW_BALLOON_NOSLEEP_ALLOC_MAX), _d(b.rate_alloc), _d(b.rate_free))
    ) + (
        "\n"
        "timer:              %8u\n"
        "start:              %8u (%4u failed)\n"
        "guestType:          %8u (%4u failed)\n"
        "lock:               %8u (%4u failed)\n"
        "unlock:             %8u (%4u failed)\n"
        "target:             %8u (%4u failed)\n"
        "primNoSleepAlloc:   %8u (%4u failed)\n"
        "primCanSleepAlloc:  %8u (%4u failed)\n"
        "primFree:           %8u\n"
        "errAlloc:           %8u\n"
        "errFree:            %8u\n"
        % (
            s.timer,
            s.start, s.start_fail,
            s.guest_type, s.guest_type_fail,
            s.lock, s.lock_fail,
            s.unlock, s.unlock_fail,
            s.target, s.target_fail,
            s.alloc, s.alloc_fail,
            s.sleep_alloc, s.sleep_alloc_fail,
            s.free,
            s.refused_alloc, s.refused_free,
        )
    )
