"""Scenarios for the data-flow goals a vector set misses: search, shrink, store."""
from __future__ import annotations

import re
from pathlib import Path

from .report import covered, goals

def search(driver: Path, missing: set[str], *, examples: int = 400, seed: int = 0,
           on_find=lambda pair, scenario: None) -> dict[str, tuple]:
    """Scenarios (seeded Hypothesis over the mutation search's multi-cycle scenarios) that
    cover the missing pairs on the interpreted driver: pair id -> (scenario, debugfs), the
    smallest found for each, then shrunk."""
    from hypothesis import HealthCheck, Phase, given, settings, target
    from hypothesis import seed as hypothesis_seed

    from balloonspec.conformance.mutation.search import search_scenarios

    g = goals(driver)
    pairs = {p.id: p for p in g.pairs if p.id in missing}
    watch = {p.var for p in pairs.values()}
    best: dict[str, tuple] = {}

    @settings(max_examples=examples, database=None, deadline=None, phases=[Phase.generate, Phase.target],
              suppress_health_check=list(HealthCheck), print_blob=False)
    @hypothesis_seed(seed)
    @given(search_scenarios())
    def explore(drawn) -> None:
        scenario, debugfs = drawn
        hit = covered(g, scenario, debugfs, watch) or set()
        new = {p.id for p in hit} & pairs.keys()
        for pid in new:
            size = (len(scenario.steps), len(scenario.host_rules) + len(scenario.alloc_rules), scenario.target)
            if pid not in best or size < best[pid][2]:
                if pid not in best:
                    on_find(pid, scenario)
                best[pid] = (scenario, debugfs, size)
        target(float(len(new)), label="missing pairs covered")

    explore()
    out = {}
    for pid, (scenario, debugfs, _) in sorted(best.items()):
        out[pid] = (shrink(scenario, lambda sc: pid in {p.id for p in covered(g, sc, debugfs, watch) or ()}),
                    debugfs)
    return out


def shrink(scenario, keep, budget: int = 120):
    """A smaller scenario for which ``keep`` still holds: rules dropped, steps dropped
    (rule scopes follow), the target, step arguments and rule positions lowered."""
    from dataclasses import replace

    from balloonspec.model.scenario import ScenarioError

    calls = [0]

    def ok(sc) -> bool:
        if calls[0] >= budget:
            return False
        calls[0] += 1
        try:
            sc.validate()
        except ScenarioError:
            return False
        return keep(sc)

    def without_step(sc, i):
        steps = sc.steps[:i] + sc.steps[i + 1:]
        fix = lambda rules: tuple(replace(r, scope=r.scope - (r.scope > i)) for r in rules if r.scope != i)  # noqa
        return replace(sc, steps=steps, host_rules=fix(sc.host_rules), alloc_rules=fix(sc.alloc_rules))

    cur, changed = scenario, True
    while changed and calls[0] < budget:
        changed = False
        for field_ in ("host_rules", "alloc_rules"):
            for i in range(len(getattr(cur, field_)) - 1, -1, -1):
                rules = getattr(cur, field_)
                cand = replace(cur, **{field_: rules[:i] + rules[i + 1:]})
                if ok(cand):
                    cur, changed = cand, True
        for i in range(len(cur.steps) - 1, 0, -1):
            if i < len(cur.steps):
                cand = without_step(cur, i)
                if ok(cand):
                    cur, changed = cand, True
        for value in (0, cur.target // 4, cur.target // 2):
            if value < cur.target and ok(replace(cur, target=value)):
                cur, changed = replace(cur, target=value), True
                break
        for field_ in ("host_rules", "alloc_rules"):
            rules = list(getattr(cur, field_))
            for i, r in enumerate(rules):
                for attr in ("nth", "count"):
                    v = getattr(r, attr)
                    for smaller in (1, v // 2):
                        if 1 <= smaller < v:
                            cand_rules = rules[:i] + [replace(r, **{attr: smaller})] + rules[i + 1:]
                            cand = replace(cur, **{field_: tuple(cand_rules)})
                            if ok(cand):
                                cur, changed, rules = cand, True, cand_rules
                                break
    return cur


def vector_entries(found: dict[str, tuple]) -> list[dict]:
    """Stored scenarios for the shipped set: one vector per scenario, naming the pairs it reaches."""
    by_scenario: dict[str, dict] = {}
    for pid, (scenario, debugfs) in sorted(found.items()):
        key = repr((scenario.to_json(), debugfs))
        e = by_scenario.setdefault(key, {"pairs": [], "scenario": scenario, "debugfs": debugfs})
        e["pairs"].append(pid)
    out = []
    for e in sorted(by_scenario.values(), key=lambda e: e["pairs"][0]):
        first = e["pairs"][0]
        vid = "dataflow-" + "-".join(re.sub(r"[^A-Za-z0-9_.]+", "-", first.replace("vmballoon_", "")).split("-")
                                     ).strip("-")
        out.append({
            "id": vid,
            "debugfs": e["debugfs"],
            "reason": {"kind": "dataflow", "goal": "; ".join(e["pairs"]),
                       "text": "a value defined in one activation of the driver (work cycle, init, debugfs read, "
                               "exit) and used in a later one: " + "; ".join(e["pairs"])},
            "scenario": e["scenario"].with_(id=vid).to_json(),
        })
    return out
