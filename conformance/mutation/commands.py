"""``balloonspec mutate``: the kill matrix of a driver source's first-order mutants.

Progress lines go to stderr as mutants are decided; the JSON report (``--json``)
is rewritten as the campaign goes; the summary ends with the survivors, each
undecided (never presumed equivalent). With ``--search`` each survivor is
handed to the differential search (search.py); a confirmed distinguishing
scenario is saved (conformance/mutation/killers.json) and written into the
vector directory, so the next campaign (and ``balloonspec vectors``) has it.

Exit codes: 0 nothing survives, 1 survivors, 2 usage or build error.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

EXIT_OK, EXIT_SURVIVORS, EXIT_ERROR = 0, 1, 2


def _err(msg: str) -> int:
    print(f"balloonspec: {msg}", file=sys.stderr)
    return EXIT_ERROR


def summary_lines(report: dict) -> list[str]:
    t = report["totals"]
    score = report["score"]
    lines = [f"mutate {report['driver']}: {t['mutants']} mutants, {t['compile_errors']} compile errors, "
             f"{t['equivalent_tce']} equivalent (TCE), {t['equivalent_proved']} equivalent (proved), "
             f"{t['killed']} killed, {t['survived']} survived; "
             f"score {'n/a' if score is None else f'{100 * score:.2f}%'} ({report['seconds']:.0f}s, "
             f"{report['mutants_per_minute']:.0f} mutants/min)"]
    lines.append("  by class: " + ", ".join(
        f"{k} {v.get('killed', 0)}/{sum(n for s, n in v.items() if s not in ('compile_error', 'equivalent_tce', 'equivalent_proved'))}"
        for k, v in report["by_class"].items()))
    proved = [m for m in report["mutants"] if m["status"] == "equivalent_proved" and not m.get("duplicate_of")]
    if proved:
        lines.append("  proved equivalent:")
        lines += [f"    {m['id']}: {m['killed_by']}" for m in proved]
    survivors = [m for m in report["mutants"] if m["status"] == "survived"]
    if survivors:
        lines.append("  survived (undecided):")
        lines += [f"    {m['id']}  {m['edit']}" + (f"  [duplicate of {m['duplicate_of']}]" if m.get("duplicate_of")
                                                     else "") for m in survivors]
    if report.get("baseline_failures"):
        lines.append(f"  vectors the driver itself fails (not used): {', '.join(report['baseline_failures'])}")
    return lines


def cmd_dataflow_search(args) -> int:
    """Search scenarios for the data-flow goals the vectors miss; store them and write their vectors."""
    from balloonspec import SEED_DRIVER
    from balloonspec.conformance import dataflow as D
    from balloonspec.conformance.commands import SHIPPED_VECTORS
    from balloonspec.conformance.generate import stored_vectors
    from balloonspec.conformance.vectors import load_dir, write

    driver = Path(args.driver) if args.driver else SEED_DRIVER
    vectors_dir = Path(args.vectors) if args.vectors else SHIPPED_VECTORS
    vecs, _ = load_dir(vectors_dir)
    missing = set(D.report(driver, vecs)["uncovered_pairs"])
    print(f"data-flow goals not reached: {len(missing)}")
    if not missing:
        return EXIT_OK
    found = D.search(driver, missing, examples=args.search_examples, seed=args.seed,
                     on_find=lambda pid, sc: print(f"  found {pid}", file=sys.stderr, flush=True))
    entries = D.vector_entries(found)
    D.save_dataflow_scenarios(entries)
    for v in stored_vectors(entries):
        write(v, vectors_dir)
    left = sorted(missing - set(found))
    print(f"  vectors added: {len(entries)}, covering {len(found)} goals; still missing: {len(left)}")
    for pid in left:
        print(f"    {pid}")
    return EXIT_OK if not left else EXIT_SURVIVORS


def cmd_minimise(args) -> int:
    """Drop the added vectors (mutation, dataflow) the rest of the set makes unnecessary."""
    from balloonspec import SEED_DRIVER
    from balloonspec.conformance import dataflow as D
    from balloonspec.conformance.commands import SHIPPED_VECTORS
    from balloonspec.conformance.vectors import load_dir

    from .minimise import redundant
    from .search import KILLERS, load_killers

    driver = Path(args.driver) if args.driver else SEED_DRIVER
    vectors_dir = Path(args.vectors) if args.vectors else SHIPPED_VECTORS
    vecs, _ = load_dir(vectors_dir)
    drop = set(redundant(driver, vecs, jobs=args.jobs, log=lambda m: print(f"  {m}", file=sys.stderr)))
    for store, load in ((KILLERS, load_killers), (D.SCENARIOS, D.load_dataflow_scenarios)):
        entries = load()
        if any(e["id"] in drop for e in entries):
            store.write_text(json.dumps([e for e in entries if e["id"] not in drop], indent=1) + "\n")
    for vid in sorted(drop):
        (vectors_dir / f"{vid}.json").unlink(missing_ok=True)
    print(f"minimise: {len(drop)} of {len(vecs)} vectors dropped, {len(vecs) - len(drop)} kept")
    return EXIT_OK


def cmd_mutate(args) -> int:
    if getattr(args, "dataflow_search", False):
        return cmd_dataflow_search(args)
    if getattr(args, "minimise", False):
        return cmd_minimise(args)
    from balloonspec import SEED_DRIVER
    from balloonspec.conformance.commands import SHIPPED_VECTORS
    from balloonspec.csource.errors import CFrontError

    from .campaign import Campaign, progress_line, select
    from .operators import generate
    from .tce import CompileError

    driver = Path(args.driver) if args.driver else SEED_DRIVER
    if not driver.is_file():
        return _err(f"driver source not found: {driver}")
    vectors_dir = Path(args.vectors) if getattr(args, "vectors", None) else SHIPPED_VECTORS
    if args.sample is not None and args.sample < 1:
        return _err("--sample must be at least 1")
    try:
        mutants = select(generate(driver), args.sample, args.seed)
    except CFrontError as e:
        return _err(f"cannot read the driver source: {e}")
    quiet = getattr(args, "quiet", False)
    camp = Campaign(driver, mutants, vectors_dir, jobs=args.jobs or 0,
                    json_path=Path(args.json) if args.json else None,
                    meta={"sample": args.sample, "seed": args.seed} if args.sample else {},
                    on_result=(lambda r, k, n: None) if quiet else
                    (lambda r, k, n: print(progress_line(r, k, n), file=sys.stderr, flush=True)))
    try:
        report = camp.run()
    except CompileError as e:
        return _err(f"the driver does not compile: {e}")
    except ValueError as e:
        return _err(str(e))
    for line in summary_lines(report):
        print(line)
    if args.search and report["totals"]["survived"]:
        added = search_survivors(camp, driver, vectors_dir, examples=args.search_examples, seed=args.seed)
        print(f"  distinguishing vectors added: {added} (run the campaign again to count them)")
    return EXIT_OK if report["totals"]["survived"] == 0 else EXIT_SURVIVORS


def search_survivors(camp, driver: Path, vectors_dir: Path, *, examples: int, seed: int) -> int:
    """Search a distinguishing scenario for each surviving mutant; save the confirmed ones."""
    from balloonspec.conformance.generate import vector_for
    from balloonspec.conformance.vectors import write
    from balloonspec.model.scenario import Scenario

    from .search import distinguish, save_killer

    text = driver.read_text()
    by_id = {m.id: m for m in camp.mutants}
    added = 0
    for r in camp.results.values():
        if r.status != "survived" or r.duplicate_of:
            continue
        print(f"  searching {r.id} ...", file=sys.stderr, flush=True)
        find = _decided_differs(by_id[r.id], text, driver) or distinguish(by_id[r.id], text, examples=examples,
                                                                           seed=seed)
        if find is None or not find.confirmed:
            why = "none found" if find is None else f"not confirmed on the compiled mutant: {find.confirmation}"
            print(f"    {why}", file=sys.stderr, flush=True)
            continue
        entry = save_killer(find, by_id[r.id])
        sc = Scenario.from_json(entry["scenario"])
        write(vector_for(entry["id"], sc, entry["reason"], entry["debugfs"]), vectors_dir)
        print(f"    {entry['id']}: {find.confirmation}", file=sys.stderr, flush=True)
        added += 1
    return added


def _decided_differs(mutant, text: str, driver: Path):
    """A distinguishing scenario from a decider that found one (the refinement checker's
    witness), confirmed on the compiled mutant; None if no decider has one."""
    import tempfile

    from .search import Find, confirm_compiled
    from .survivors import DECIDERS

    with tempfile.TemporaryDirectory(prefix="balloonspec-decide-") as tmp:
        path = Path(tmp) / "vmw_balloon.c"
        path.write_text(mutant.apply(text))
        for decide in DECIDERS:
            d = decide(mutant, path, driver)
            if d is not None and d.status == "differs" and d.scenario is not None:
                debugfs = d.details.get("debugfs", True)
                ok, how = confirm_compiled(mutant, text, d.scenario, debugfs)
                return Find(mutant.id, d.scenario, debugfs, d.text, 0, ok, how)
    return None


def add_arguments(p) -> None:
    p.add_argument("--driver", metavar="SRC.c", help="driver source (default: the seed)")
    p.add_argument("--vectors", metavar="DIR", help="vector directory (default: the shipped set)")
    p.add_argument("--json", metavar="FILE", help="write the kill matrix here (rewritten as the campaign goes)")
    p.add_argument("--jobs", "-j", type=int, default=0, help="parallel workers (default: CPU count)")
    p.add_argument("--sample", type=int, metavar="N", help="a seeded sample of N mutants (default: all)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the sample and of the search")
    p.add_argument("--search", action="store_true",
                   help="search a distinguishing scenario for each survivor and add it to the vectors")
    p.add_argument("--search-examples", type=int, default=600, metavar="N",
                   help="scenarios tried per survivor by --search")
    p.add_argument("--dataflow-search", action="store_true",
                   help="instead of a campaign: search scenarios for the data-flow goals the vectors miss")
    p.add_argument("--minimise", action="store_true",
                   help="instead of a campaign: drop the added vectors (mutation, dataflow) the rest makes unnecessary")
    p.add_argument("--quiet", action="store_true", help="no progress lines")


