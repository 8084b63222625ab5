"""The documented findings (specs/findings.md) on a driver build.

Two questions, both answered from the build's observed traces with each
finding's own witness predicates (model/proofs/witnesses.py `confirm`):

* Which findings does this build still show? A finding's predicate is any of
  its witnesses' `confirm`; the finding is `present` when the predicate
  confirms one of its witness vectors' observed traces, `gone` when every
  witness vector ran to the end and none confirms it, `unknown` otherwise
  (the witness vector was not in the run, or its run did not finish).
* Which monitor violations does a vector's documentation excuse? The spec
  itself breaks some protocol monitors on some scenarios (a vector's
  `expected_findings`). Such a violation in the observed trace is excused only
  when it is the one the vector documents: the same monitor, at the
  documented place (same scenario step, same kind of event, same command, and
  the same host replies in that step before it), and
  - when a documented finding explains the spec's violation (its predicate
    confirms the expected trace): the same predicate confirms the observed
    trace, and the violation is confined to what the finding is about
    (SCOPES: for F-HIGH-PFN, pages whose PFN does not fit 32 bits);
  - otherwise, for a monitor with a scope (MONITOR_SCOPES: MEM-NO-LEAK is
    about pages whose locks a host reset made the host forget) that explains
    the spec's violation: the observed violation is confined to it too;
  - otherwise: the monitor describes the same violation (its message equal
    up to page numbers).
  Any other violation fails the vector, whatever its monitor.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from balloonspec.model import constants as C
from balloonspec.model import monitors
from balloonspec.model.proofs.docs import FINDINGS as _FINDINGS
from balloonspec.model.proofs.witnesses import PFN_4G, WITNESSES, confirm
from balloonspec.model.trace import Kind


@dataclass(frozen=True)
class Finding:
    id: str
    title: str
    severity: str
    witnesses: tuple[str, ...]
    monitors: tuple[str, ...]  # protocol monitors its witnesses are flagged by


FINDINGS: tuple[Finding, ...] = tuple(
    Finding(fid, title, severity, tuple(wids),
            tuple(dict.fromkeys(m for w in wids for m in WITNESSES[w].monitors)))
    for fid, title, severity, wids, _text in _FINDINGS)
FINDING_OF_WITNESS = {w: f for f in FINDINGS for w in f.witnesses}


def finding_shows(finding: Finding, events: list[tuple], trace_of: str | None = None) -> str | None:
    """The finding's predicate (any of its witnesses' confirm) on a trace (of the
    witness vector `trace_of`, if it is one): what it sees, or None."""
    for w in finding.witnesses:
        shows = confirm(w, events)
        if shows:
            return shows if w == trace_of or len(finding.witnesses) == 1 else f"{shows} (predicate of {w})"
    return None


def witness_check(vector_id: str, events: list[tuple], finished: bool) -> dict | None:
    """For a witness vector: does this observed trace show its finding?"""
    if vector_id not in WITNESSES:
        return None
    finding = FINDING_OF_WITNESS[vector_id]
    try:
        shows = finding_shows(finding, events, trace_of=vector_id)
    except Exception as e:  # a predicate must not turn a strange trace into a crash
        return {"finding": finding.id, "shows": None, "finished": False,
                "note": f"predicate failed: {type(e).__name__}: {e}"}
    return {"finding": finding.id, "shows": shows, "finished": finished}


def findings_of_build(results) -> list[dict]:
    """Each documented finding as present, gone or unknown, from the witness vectors' results."""
    checks = {r.id: (r.witness, r.verdict) for r in results if getattr(r, "witness", None)}
    out = []
    for f in FINDINGS:
        shown = [(w, checks[w][0]["shows"]) for w in f.witnesses if w in checks and checks[w][0]["shows"]]
        missing = [w for w in f.witnesses if w not in checks]
        unfinished = [w for w in f.witnesses if w in checks and not checks[w][0]["finished"]]
        if shown:
            status, why = "present", f"{shown[0][0]}: {shown[0][1]}"
        elif missing:
            status, why = "unknown", f"witness vector(s) not in this run: {', '.join(missing)}"
        elif unfinished:
            status, why = "unknown", (f"witness run(s) did not finish: "
                                      + ", ".join(f"{w} ({checks[w][1]})" for w in unfinished))
        else:
            status, why = "gone", "no witness trace shows it: " + ", ".join(f.witnesses)
        out.append({"id": f.id, "title": f.title, "severity": f.severity, "status": status, "evidence": why})
    return out


# -- precise excuses --------------------------------------------------------------------------


def _without_high_pfn_pages(events: list[tuple]) -> list[tuple]:
    """The trace without the allocations and frees of pages whose PFN does not fit 32 bits."""
    return [e for e in events
            if not (e[0] == Kind.ALLOC and e[2] and e[3] >= PFN_4G) and not (e[0] == Kind.FREE and e[1] >= PFN_4G)]


def _without_pages_the_host_locked(events: list[tuple]) -> list[tuple]:
    """The trace without the pages the host locked at some point (a host reset
    makes it forget their locks while the driver still holds them)."""
    locked = {e[3] for e in events if e[0] == Kind.BACKDOOR and e[2] == C.VMW_BALLOON_CMD_LOCK
              and e[5] == C.VMW_BALLOON_SUCCESS}
    return [e for e in events
            if not (e[0] == Kind.ALLOC and e[2] and e[3] in locked) and not (e[0] == Kind.FREE and e[1] in locked)]


# What a documented violation is about, as the trace with those pages taken out.
# By finding (when the finding's predicate explains the spec's violation):
SCOPES: dict[str, Callable[[list[tuple]], list[tuple]]] = {"F-HIGH-PFN": _without_high_pfn_pages}
# By monitor, for the spec's own violations no finding explains (MEM-NO-LEAK
# at the end of a scenario in which the host reset and forgot the balloon's
# locks before the driver could react):
MONITOR_SCOPES: dict[str, Callable[[list[tuple]], list[tuple]]] = {"MEM-NO-LEAK": _without_pages_the_host_locked}


def place(events: list[tuple], index: int) -> tuple:
    """Where event `index` happens: its step, its kind (and command), and the
    host's replies (command, status) earlier in that step."""
    step, replies = -1, []
    for e in events[:index]:
        if e[0] == Kind.STEP:
            step, replies = e[1], []
        elif e[0] == Kind.BACKDOOR:
            replies.append((e[2], e[5]))
    e = events[index]
    return step, e[0], e[2] if e[0] == Kind.BACKDOOR else None, tuple(replies)


def _same_message(a: str, b: str) -> bool:
    def norm(s):
        return re.sub(r"0x[0-9a-f]+", "0x#", s)

    return norm(a) == norm(b)


def explaining_findings(monitor: str, expected: list[tuple]) -> list[Finding]:
    """Documented findings whose predicate explains the spec's own violation of `monitor`."""
    return [f for f in FINDINGS if monitor in f.monitors and finding_shows(f, expected)]


def excuse(violation: monitors.Violation, observed: list[tuple], documented: list[monitors.Violation],
           expected: list[tuple], totalram: int | None) -> str | None:
    """Why the vector's documentation excuses this observed violation, or None."""
    doc = next((d for d in documented if d.monitor == violation.monitor), None)
    if doc is None:
        return None
    if place(observed, violation.index) != place(expected, doc.index):
        return None

    def explained(scope, trace) -> bool:  # the violation vanishes without what the scope is about
        return not any(v.monitor == violation.monitor for v in monitors.check(scope(trace), totalram=totalram))

    findings = explaining_findings(violation.monitor, expected)
    for f in findings:
        shows = finding_shows(f, observed)
        scope = SCOPES.get(f.id)
        if shows and (scope is None or explained(scope, observed)):
            return f"documented finding {f.id}: {shows}"
    if findings:
        return None
    scope = MONITOR_SCOPES.get(violation.monitor)
    if scope is not None and explained(scope, expected):
        return ("documented: the spec shows it too, on pages the host had locked"
                if explained(scope, observed) else None)
    return "documented: the spec shows the same violation here" if _same_message(violation.message,
                                                                                doc.message) else None
