"""The spec's diagrams, built from the model: the host's protocol state machine
from model/protocol.py's TRANSITIONS (the table StrictHost runs), the driver's
flows from model/algorithm.py's source (balloonspec/docs/flow.py).

Each diagram is a Graph (balloonspec/docs/graph.py): Mermaid text in specs/
(generated parts, stale-checked), an SVG drawn by Graphviz on the site.
"""
from __future__ import annotations

from balloonspec.model import algorithm as A
from balloonspec.model import protocol as P

from .flow import add_flow, loop_test
from .graph import Graph


def _ids(names) -> dict[str, str]:
    return {n: n.replace(" ", "_") for n in names}


def protocol() -> Graph:
    """The host's states with every command and status as a transition, and the
    lock state of one PPN while the host is started."""
    g = Graph("protocol", "The host's protocol state machine (model/protocol.py TRANSITIONS, REFUSALS)",
              kind="state")
    ids = _ids(P.HOST_STATES)
    start = g.node("start", "start", id="start")
    for name, nid in ids.items():
        g.node(name, "state", id=nid)
    g.edge(start, ids[P.INITIAL_STATE])
    # one edge per (from, to); rows with the same guard and reply share a line
    grouped: dict[tuple[str, str], dict[tuple, list[str]]] = {}
    for t in P.TRANSITIONS:
        if t.guard in ("ppn locked", "ppn not locked"):
            continue  # drawn on the PPN's own machine below
        key = (t.guard, t.status or "no reply", t.effect)
        grouped.setdefault((t.state, t.next), {}).setdefault(key, []).append(t.command)
    for (src, dst), rows in grouped.items():
        lines = []
        for (guard, status, effect), commands in rows.items():
            cmd = ", ".join(commands) + (f"({guard.split()[0]})" if guard.startswith("v ") else "")
            if guard.startswith("v "):
                cmd = f"{commands[0]}(v {guard.split(' ', 1)[1]})" if len(commands) == 1 else cmd
            lines.append(f"{cmd} / {status}" + (f" [{effect}]" if effect and src == dst else ""))
        for line in lines:
            g.edge(ids[src], ids[dst], line)
    by_replies: dict[tuple, list[str]] = {}
    for cmd, statuses in P.REFUSALS.items():
        by_replies.setdefault(statuses, []).append(cmd)
    for statuses, cmds in by_replies.items():
        g.edge(ids["started"], ids["started"], f"{', '.join(cmds)} / {' or '.join(statuses)} (host's choice)")
    # the lock state of one PPN (rows guarded on the PPN, and what forgets every lock)
    ppn = g.cluster("one_ppn", "the lock state of one PPN (while started)")
    unl = g.node("PPN unlocked", "state", ppn, id="ppn_unlocked")
    lck = g.node("PPN locked", "state", ppn, id="ppn_locked")
    g.edge(start, unl)
    page = {"ppn not locked": unl, "ppn locked": lck}
    after = {"lock ppn": lck, "unlock ppn": unl}
    for t in P.TRANSITIONS:
        if t.guard in page:
            g.edge(page[t.guard], after.get(t.effect, page[t.guard]), f"{t.command} / {t.status}")
    forget = sorted({f"{t.command}" + ("(v = 2)" if t.guard == "v = 2" else "") for t in P.TRANSITIONS
                     if t.effect == "forget locks and guest id"})
    g.edge(lck, unl, " or ".join(forget) + " (forgets every lock)")
    return g


def work_cycle() -> Graph:
    g = Graph("work", "One work cycle: vmballoon_work (model/algorithm.py work, reset, send_get_target)")
    add_flow(g, A.work, "work: vmballoon_work, once a second")
    add_flow(g, A.reset, "reset: vmballoon_reset")
    add_flow(g, A.send_get_target, "send_get_target: vmballoon_send_get_target")
    add_flow(g, A.check_status, "check_status: vmballoon_check_status")
    return g


def inflate() -> Graph:
    """vmballoon_inflate: the loop's begin, one allocation attempt (NOSLEEP,
    CANSLEEP, LOCK, refusals, rate limits), the loop's end."""
    g = Graph("inflate", "Inflate decision flow (model/algorithm.py inflate_begin, inflate_attempt, inflate_end)")
    loop = g.node(loop_test(A.inflate), "decision", id="inflate_loop")
    add_flow(g, A.inflate_begin, "inflate_begin: vmballoon_inflate before the loop", returns={"return": loop})
    add_flow(g, A.inflate_attempt, "inflate_attempt: one alloc_page (reserve_page + the for body)",
             returns={"return True": "inflate_end", "return False": "entry"})
    add_flow(g, A.inflate_end, "inflate_end: after the loop", returns={"return": "release_refused_pages"})
    add_flow(g, A.release_refused_pages, "then: release_refused_pages")
    g.edge(loop, "inflate_attempt", "yes")
    g.edge(loop, "inflate_end", "no")
    return g


def deflate() -> Graph:
    g = Graph("deflate", "Deflate and pop (model/algorithm.py deflate_begin, deflate_release, deflate_end, pop_one)")
    walk = g.node(loop_test(A.deflate), "decision", id="deflate_walk")
    add_flow(g, A.deflate_begin, "deflate_begin: vmballoon_deflate before the walk", returns={"return": walk})
    add_flow(g, A.deflate_release, "deflate_release: one page from the head of b->pages",
             returns={"return True": "deflate_end", "return False": walk})
    add_flow(g, A.deflate_end, "deflate_end: after the walk")
    g.edge(walk, "deflate_release", "yes")
    g.edge(walk, "deflate_end", "no")
    pop = g.node(loop_test(A.pop), "decision", id="pop_loop")
    g.node("pop", "call", id="pop")
    g.edge("pop", pop)
    add_flow(g, A.pop_one, "pop_one: one page of vmballoon_pop (reset, exit)", returns={"return": pop})
    g.edge(pop, "pop_one", "yes")
    g.edge(pop, g.node("return", "terminal"), "no")
    return g


def init_exit() -> Graph:
    g = Graph("init-exit", "Module init and exit (model/algorithm.py init, exit, send_start, send_guest_id)")
    add_flow(g, A.init, "init: vmballoon_init")
    add_flow(g, A.exit, "exit: vmballoon_exit")
    add_flow(g, A.send_start, "send_start: vmballoon_send_start")
    add_flow(g, A.send_guest_id, "send_guest_id: vmballoon_send_guest_id")
    return g


# name -> (builder, the spec page that shows it)
DIAGRAMS = {
    "protocol": (protocol, "protocol.md"),
    "init-exit": (init_exit, "algorithm.md"),
    "work": (work_cycle, "algorithm.md"),
    "inflate": (inflate, "algorithm.md"),
    "deflate": (deflate, "algorithm.md"),
}


def graph(name: str) -> Graph:
    return DIAGRAMS[name][0]()
