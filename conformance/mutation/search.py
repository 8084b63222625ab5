"""Distinguishing scenarios for surviving mutants: differential search.

A mutant the vectors do not kill may still differ from the spec on some
scenario, typically one that spans several work cycles (a counter that is
not reset, a rate raised from a stale value). ``distinguish`` searches for
such a scenario with Hypothesis, seeded, over ``search_scenarios``: runs of
work cycles built from exploration's targets, statuses and commands
(conformance/explore.py), with module reloads, faults scoped to a cycle, and
a debugfs read at the end (which shows most of the driver's state):

* each scenario is predicted by the spec (model/predict.py) and run on the
  mutant's *interpreted* C (csource: no compile per scenario);
* a scenario whose traces differ is a find: Hypothesis shrinks it to the
  shortest scenario that still differs;
* otherwise Hypothesis is steered (``target``) toward scenarios that run the
  mutated line more often and whose mutant state drifts from the spec's at
  more step boundaries (a difference in state not yet observable is one step
  from an observable one);

and the find is confirmed on the *compiled* mutant (the userspace backend)
before it becomes a vector of the shipped set (``save_killer`` stores it in
``killers.json``, from which conformance/generate.py makes the vector), with a
reason naming the mutant class it guards against.
"""
from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings, target
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from balloonspec.conformance.explore import commands, statuses, targets
from balloonspec.model import constants as C
from balloonspec.model.predict import predict
from balloonspec.model.scenario import AllocRule, HostRule, Scenario, Step

from .operators import Mutant

MAX_EVENTS = 3_000_000  # per prediction: scenarios the search draws stay well below
KILLERS = Path(__file__).resolve().parent / "killers.json"


@st.composite
def search_scenarios(draw, max_cycles: int = 14) -> tuple[Scenario, bool]:
    """Scenarios for defects that show across work cycles: a run of cycles with the
    environment changing between some of them (exploration's targets, statuses and
    commands: conformance/explore.py), a module reload now and then (statics survive it
    in the userspace harness), faults scoped to one cycle or to the whole run that start
    early and last a few calls (a fault in one cycle followed by calm ones is where state
    carried across cycles shows), a debugfs read at the end (it prints most of the state);
    and the build configuration (CONFIG_DEBUG_FS on, mostly)."""
    steps: list[Step] = [Step("init")]
    cycles: list[int] = []
    for _ in range(draw(st.integers(2, max_cycles))):
        r = draw(st.integers(0, 39))
        if r < 10:
            steps.append(Step("set_target", draw(targets)))
        elif r < 13:
            steps.append(Step("host_reset"))
        elif r < 15:
            steps.append(Step("set_totalram", draw(st.sampled_from([65536, 262144, (1 << 32) - 1, 1 << 32]))))
        elif r < 17:
            steps += [Step("exit"), Step("init")]
        elif r < 19:
            steps.append(Step("debugfs"))
        cycles.append(len(steps))
        steps.append(Step("cycle"))
    steps.append(Step("debugfs"))
    if draw(st.booleans()):
        steps.append(Step("exit"))
    scope = st.one_of(st.sampled_from(cycles), st.just(-1))
    nth = st.one_of(st.integers(1, 40), st.integers(1, 3000))
    count = st.one_of(st.integers(1, 4), st.integers(1, 40), st.integers(1, 3000))
    host_rules = draw(st.lists(st.builds(HostRule, cmd=commands, status=statuses, nth=nth, count=count,
                                         scope=scope), max_size=3))
    alloc_rules = draw(st.lists(st.one_of(
        st.builds(AllocRule, gfp=st.sampled_from([0, C.VMW_PAGE_ALLOC_NOSLEEP, C.VMW_PAGE_ALLOC_CANSLEEP]),
                  nth=nth, count=count, scope=scope),
        st.builds(AllocRule, gfp=st.just(0), nth=nth, scope=scope, fail=st.just(False),
                  pfn=st.sampled_from([(1 << 32) - 1, 1 << 32, (1 << 40) + 7])),
    ), max_size=3))
    target = draw(st.one_of(targets, st.integers(5000, 40000)))
    debugfs = draw(st.integers(0, 7)) != 0
    return Scenario(id="search", steps=tuple(steps), target=target, host_rules=tuple(host_rules),
                    alloc_rules=tuple(alloc_rules)), debugfs


@dataclass
class Find:
    mutant: str
    scenario: Scenario
    debugfs: bool
    divergence: str
    examples: int
    confirmed: bool = False
    confirmation: str = ""


def _flat_state(summary: dict) -> dict:
    out = {}
    for k, v in summary.items():
        k = k[len("balloon."):] if k.startswith("balloon.") else k
        if isinstance(v, dict):
            for k2, v2 in v.items():
                out[f"{k}.{k2}"] = v2
        elif isinstance(v, (int, bool)):
            out[k] = int(v)
    return out


def _drift(spec, mut) -> int:
    """Step boundaries at which the mutant's fields differ from the spec's."""
    n = 0
    for a, b in zip(spec.snapshots, mut.snapshots):
        sa, sb = _flat_state(a.balloon), _flat_state(b.balloon)
        if any(sa[k] != sb[k] for k in sa.keys() & sb.keys()):
            n += 1
    return n


class _CountingDriver:
    """A csource CDriver whose machine counts the runs of the blocks that hold one C line."""

    @staticmethod
    def make(program, c_line: int):
        from balloonspec.csource.run import CDriver
        from balloonspec.csource.runtime import Machine

        owners = {}  # function -> block indexes whose generated code has a statement of c_line
        for fname, names in program._block_names.items():
            for i, bname in enumerate(names):
                if any(c == c_line for c in _block_c_lines(program, bname)):
                    owners.setdefault(fname, []).append(i)
        count = [0]

        def counted(block):
            def run(M, F, L):
                count[0] += 1
                return block(M, F, L)
            return run

        class CountingMachine(Machine):
            def __init__(self, *a, **kw) -> None:
                super().__init__(*a, **kw)
                code = dict(self.code)
                for f, idx in owners.items():
                    code[f] = [counted(b) if i in idx else b for i, b in enumerate(code[f])]
                self.code = code

        class CountingDriver(CDriver):
            def _m(self, env):
                if self.machine is None:
                    self.machine = CountingMachine(self.program, self.ops, env)
                self.machine.env = env
                return self.machine

        return CountingDriver(program), count


def _block_c_lines(program, block_name: str) -> set[int]:
    """The C lines of the statements of one generated block function."""
    lines = program.source.split("\n")
    start = next(i for i, ln in enumerate(lines) if ln.startswith(f"def {block_name}("))
    out, i = set(), start + 1
    while i < len(lines) and lines[i].startswith(" "):
        out.add(program.line_map.get(i + 1, 0))
        i += 1
    return out


def _drift_size(spec, mut) -> float:
    """How far the mutant's fields have moved from the spec's, at the last step boundary."""
    if not spec.snapshots or not mut.snapshots:
        return 0.0
    a, b = _flat_state(spec.snapshots[-1].balloon), _flat_state(mut.snapshots[-1].balloon)
    return float(sum(min(abs(a[k] - b[k]), 64) for k in a.keys() & b.keys()))


def distinguish(mutant: Mutant, seed_text: str, *, examples: int = 300, seed: int = 0,
                max_cycles: int = 16, confirm: bool = True) -> Find | None:
    """A scenario on which the mutant's trace differs from the spec's, or None."""
    from balloonspec.csource.compile import load
    from balloonspec.csource.errors import CFrontError

    with tempfile.TemporaryDirectory(prefix="balloonspec-search-") as tmp:
        path = Path(tmp) / "vmw_balloon.c"
        path.write_text(mutant.apply(seed_text))
        programs = {}
        found: list = []
        tried = [0]

        def program(debugfs: bool):
            if debugfs not in programs:
                programs[debugfs] = load(path, debugfs=debugfs)
            return programs[debugfs]

        @settings(max_examples=examples, database=None, deadline=None,
                  phases=[Phase.generate, Phase.target, Phase.shrink],
                  suppress_health_check=list(HealthCheck), print_blob=False)
        @hypothesis_seed(seed)
        @given(search_scenarios(max_cycles=max_cycles))
        def differs(drawn) -> None:
            scenario, debugfs = drawn
            tried[0] += 1
            spec = predict(scenario, debugfs=debugfs, max_events=MAX_EVENTS)
            if spec.hung:
                return
            driver, count = _CountingDriver.make(program(debugfs), mutant.line)
            try:
                mut = predict(scenario, debugfs=debugfs, max_events=MAX_EVENTS, driver=driver)
                problem = None if mut.hung or mut.events == spec.events else _first_difference(spec, mut)
            except CFrontError as e:
                problem, mut = f"the interpreted mutant faults: {e}", None
            if problem:
                found[:] = [scenario, debugfs, problem]
                raise AssertionError(problem)
            target(float(min(count[0], 100)), label="mutated line runs")
            if mut is not None:
                target(float(_drift(spec, mut)), label="state drift")
                target(_drift_size(spec, mut), label="state drift size")

        try:
            differs()
        except AssertionError:
            pass
        except CFrontError:
            return None
    if not found:
        return None
    scenario, debugfs, problem = found  # Hypothesis replays the minimal example last
    f = Find(mutant.id, scenario, debugfs, problem, tried[0])
    if confirm:
        f.confirmed, f.confirmation = confirm_compiled(mutant, seed_text, scenario, debugfs)
    return f


def _first_difference(spec, mut) -> str:
    from balloonspec.conformance.compare import first_divergence

    div = first_divergence(spec.events, mut.events)
    return str(div).splitlines()[0] if div is not None else "traces differ"


def confirm_compiled(mutant: Mutant, seed_text: str, scenario: Scenario, debugfs: bool) -> tuple[bool, str]:
    """Does the compiled mutant fail the vector the scenario makes? (the verdict's text)"""
    from balloonspec.conformance.generate import vector_for
    from balloonspec.conformance.runner import judge

    from .campaign import Builds, run_guarded

    vec = vector_for("confirm", scenario.with_(id="confirm"), {"kind": "mutation"}, debugfs)
    with Builds(mutant.apply(seed_text)) as build:
        runaway, run = run_guarded(build(debugfs), vec)
        if runaway:
            return True, "runaway trace"
        res = judge(vec, run, "full")
    if res.status == "pass":
        return False, "the compiled mutant passes this scenario"
    if res.divergence:
        d = res.divergence
        return True, f"event {d['index']} (cycle {d['cycle']}): expected {d['expected']}, observed {d['observed']}"
    return True, res.message.splitlines()[0] if res.message else "monitor violation"


# -- the killers: scenarios of the shipped set that guard against mutant classes ----------------------


CLASS_NAMES = {"aor": "arithmetic operator replacement", "ror": "relational operator replacement",
               "lor": "logical operator replacement", "asr": "assignment operator replacement",
               "crp": "constant replacement", "sdl": "statement deletion", "cnd": "condition negation or removal",
               "swp": "swapped operands", "lst": "list operation replacement", "ret": "changed return value"}


def vector_id(mutant_id: str) -> str:
    return "mutant-" + mutant_id.replace(":", "-")


def load_killers(path: Path = KILLERS) -> list[dict]:
    return json.loads(path.read_text()) if path.is_file() else []


def save_killer(find: Find, mutant: Mutant, path: Path = KILLERS) -> dict:
    """Add the scenario that kills ``mutant`` to the store the shipped set is generated from."""
    entry = {
        "id": vector_id(mutant.id),
        "debugfs": find.debugfs,
        "reason": {"kind": "mutation", "goal": mutant.id,
                   "text": f"guards against {CLASS_NAMES.get(mutant.klass, mutant.klass)} ({mutant.operator}) at "
                           f"{mutant.function}, {mutant.describe()} (a build with that change diverges at "
                           f"{find.confirmation or find.divergence})"},
        "scenario": find.scenario.with_(id=vector_id(mutant.id)).to_json(),
    }
    entries = [e for e in load_killers(path) if e["id"] != entry["id"]] + [entry]
    path.write_text(json.dumps(sorted(entries, key=lambda e: e["id"]), indent=1) + "\n")
    return entry
