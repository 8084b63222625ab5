"""The `balloonspec` command.

Exit codes everywhere: 0 the driver/spec is as expected, 1 a divergence or an
unexpected proof outcome, 2 usage, build or environment error.
"""
from __future__ import annotations

import argparse
import sys

EXIT_OK, EXIT_DIVERGENCE, EXIT_ERROR = 0, 1, 2


def _add_prove(sub):
    p = sub.add_parser("prove", help="prove the invariant catalogue with Z3")
    p.add_argument("--json", metavar="FILE", help="write the JSON report here")
    p.add_argument("--only", metavar="ID", action="append", help="run only these invariant ids")
    p.add_argument("--jobs", "-j", type=int, default=None, help="worker processes (default: all CPUs)")
    p.add_argument("--explain", metavar="ID", help="per obligation of ID: hypotheses, a satisfying example, C lines")
    p.set_defaults(func=lambda a: _lazy("balloonspec.conformance.commands", "cmd_prove")(a))


def _add_limits(p):
    """Run-time limits shared by conform and check."""
    p.add_argument("--timeout", metavar="S", type=float, default=None,
                   help="time limit of every driver run in seconds (default: from the vector's predicted "
                        "work: 3 s plus 25 us per predicted event and 10 ms per work cycle); a run over it "
                        "is a hang")
    p.add_argument("--max-failures", metavar="N", type=int, default=None,
                   help="stop starting vectors after N failed; the rest are reported as not run")
    p.add_argument("--jobs", "-j", type=int, default=0, help="parallel driver runs (default: CPU count)")


def _add_conform(sub):
    p = sub.add_parser("conform", help="run vectors against a driver build and compare with the spec",
                       epilog="Exit codes: 0 pass, 1 fail (a vector or an explored scenario failed, or the run "
                              "stopped at --max-failures), 2 error (the driver does not compile, a vector is "
                              "malformed or stale against the installed spec). The summary line, the JSON "
                              "verdict and the exit code always agree.")
    p.add_argument("--driver", metavar="SRC.c", help="driver source (default: the seed)")
    p.add_argument("--module", metavar="PATH.ko", help="a built module (kernel backend, protocol level)")
    p.add_argument("--backend", choices=["userspace", "kernel"], default="userspace")
    p.add_argument("--level", choices=["full", "protocol"], default="full")
    p.add_argument("--vectors", metavar="DIR", help="vector directory (default: the shipped set)")
    p.add_argument("--explore", metavar="N", type=int, default=0, help="also run N Hypothesis scenarios")
    p.add_argument("--seed", metavar="S", type=int, default=0, help="seed of the exploration")
    p.add_argument("--save-regressions", metavar="DIR", default=None,
                   help="where exploration saves the shrunk failing scenario as a regression vector "
                        "(default: ./balloonspec-regressions)")
    p.add_argument("--json", metavar="FILE")
    p.add_argument("--junit", metavar="FILE")
    p.add_argument("--coverage", action="store_true", help="measure line/branch coverage of the driver (gcov)")
    p.add_argument("--sanitize", action="store_true", help="run an ASan+UBSan build of the driver")
    _add_limits(p)
    p.set_defaults(func=lambda a: _lazy("balloonspec.conformance.commands", "cmd_conform")(a))


def _add_compare(sub):
    p = sub.add_parser("compare", help="how two driver builds differ: the vectors on which their traces differ",
                       epilog="Exit codes: 0 the builds behave the same on every vector, 1 they differ, 2 error "
                              "(a build does not compile, a vector is malformed or stale, a run failed).")
    p.add_argument("a", metavar="A.c", help="driver source A")
    p.add_argument("b", metavar="B.c", help="driver source B")
    p.add_argument("--vectors", metavar="DIR", help="vector directory (default: the shipped set)")
    p.add_argument("--explore", metavar="N", type=int, default=0,
                   help="also run the first N seeded exploration scenarios on both builds")
    p.add_argument("--seed", metavar="S", type=int, default=0, help="seed of the exploration")
    p.add_argument("--json", metavar="FILE")
    p.add_argument("--timeout", metavar="S", type=float, default=None,
                   help="time limit of every driver run in seconds (default: from the vector's predicted work)")
    p.add_argument("--jobs", "-j", type=int, default=0, help="parallel driver runs (default: CPU count)")
    p.set_defaults(func=lambda a: _lazy("balloonspec.conformance.commands", "cmd_compare")(a))


def _add_vectors(sub):
    p = sub.add_parser("vectors", help="regenerate the shipped vector set from the model")
    p.add_argument("--out", metavar="DIR", help="output directory (default: the shipped set)")
    p.set_defaults(func=lambda a: _lazy("balloonspec.conformance.commands", "cmd_vectors")(a))


def _add_run(sub):
    p = sub.add_parser("run", help="run one scenario (JSON) on a driver build and print its trace")
    p.add_argument("scenario", metavar="SCENARIO.json")
    p.add_argument("--driver", metavar="SRC.c")
    p.add_argument("--sanitize", action="store_true")
    p.set_defaults(func=lambda a: _lazy("balloonspec.conformance.commands", "cmd_run")(a))


def _add_interpret(sub):
    p = sub.add_parser("interpret", help="run one scenario (or vector) on the interpreted C and print its trace")
    p.add_argument("scenario", metavar="SCENARIO.json")
    p.add_argument("--driver", metavar="SRC.c", help="driver source (default: the seed)")
    p.add_argument("--no-debugfs", action="store_true", help="a build without CONFIG_DEBUG_FS")
    p.set_defaults(func=lambda a: _lazy("balloonspec.csource.commands", "cmd_interpret")(a))


def _add_crosscheck(sub):
    p = sub.add_parser("crosscheck", help="the interpreted C against the compiled C, event for event, on vectors")
    p.add_argument("--driver", metavar="SRC.c", help="driver source (default: the seed)")
    p.add_argument("--vectors", metavar="DIR", help="vector directory (default: the shipped set)")
    p.add_argument("--json", metavar="FILE")
    p.set_defaults(func=lambda a: _lazy("balloonspec.csource.commands", "cmd_crosscheck")(a))


def _add_mutate(sub):
    p = sub.add_parser("mutate", help="first-order mutants of a driver against the vectors: the kill matrix")
    _lazy("balloonspec.conformance.mutation.commands", "add_arguments")(p)
    p.set_defaults(func=lambda a: _lazy("balloonspec.conformance.mutation.commands", "cmd_mutate")(a))


def _add_refine(sub):
    p = sub.add_parser("refine", help="prove the driver's C refines the spec, segment by segment, or find a "
                                      "distinguishing vector and replay it on the compiled build")
    p.add_argument("--driver", metavar="SRC.c|DIR",
                   help="driver source (default: the seed), or a folder: every *.c in it decided, one row each")
    p.add_argument("--json", metavar="FILE")
    p.add_argument("--show-coupling", action="store_true", help="print the inferred coupling relation")
    p.add_argument("--save-dir", metavar="DIR", default="balloonspec-refine",
                   help="where a distinguishing vector is written (default: ./balloonspec-refine)")
    p.add_argument("--search-budget", type=float, default=120.0, metavar="S",
                   help="seconds the distinguishing search runs beside the proofs (default 120); when a "
                        "segment fails, a second search guided by its model gets half as long")
    p.add_argument("--segments", action="store_true",
                   help="check every segment even when the search has already found a replayed witness")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=lambda a: _lazy("balloonspec.refine.commands", "cmd_refine")(a))


def _add_check(sub):
    p = sub.add_parser("check", help="the main job: prove, then conform the driver, one summary")
    p.add_argument("--driver", metavar="SRC.c", help="driver source (default: the seed)")
    p.add_argument("--json", metavar="FILE")
    p.add_argument("--no-refine", dest="refine", action="store_false",
                   help="skip the refinement checker (balloonspec refine), whose verdict check shows by default")
    _add_limits(p)
    p.set_defaults(func=lambda a: _lazy("balloonspec.conformance.commands", "cmd_check")(a))


def _add_bench(sub):
    p = sub.add_parser("bench", help="measure backdoor call rates (floor, trace, conform, kernel)")
    p.add_argument("--json", metavar="FILE")
    p.add_argument("--kernel", action="store_true", help="also measure the in-kernel backend")
    p.add_argument("--scale", action="store_true", help="also run the 16 GiB inflate/deflate scenario")
    p.set_defaults(func=lambda a: _lazy("balloonspec.conformance.bench", "cmd_bench")(a))


def _add_setup(sub):
    p = sub.add_parser("setup", help="install everything the tests need: setup-kernel's packages, "
                                     "Graphviz and Chromium (apt)")
    p.set_defaults(func=lambda a: _lazy("balloonspec.setup", "cmd_setup")(a))


def _add_setup_kernel(sub):
    p = sub.add_parser("setup-kernel", help="install QEMU, busybox and the Debian kernel image+headers")
    p.set_defaults(func=lambda a: _lazy("balloonspec.driver.kernel.setup", "cmd_setup")(a))


def _add_spec_mutate(sub):
    p = sub.add_parser("spec-mutate", help="spec mutation: the catalogue and the shipped vectors on every "
                                           "first-order mutant of model/algorithm.py",
                       description="Run the invariant catalogue and the shipped vectors' re-prediction on every "
                                   "first-order mutant of model/algorithm.py; report what catches each mutant "
                                   "and list the mutants nothing catches. Exit 0 when the campaign ran "
                                   "(whatever it found), 2 on error.")
    p.add_argument("--list", action="store_true", help="list the mutants (id and edit) and exit")
    p.add_argument("--sample", type=int, default=None, metavar="N", help="a seeded sample of N mutants (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of --sample (default 0)")
    p.add_argument("--only", action="append", default=[], metavar="ID", help="run this mutant (repeatable)")
    p.add_argument("--jobs", "-j", type=int, default=None, help="worker processes (default: all CPUs)")
    p.add_argument("--timeout", type=int, default=600, metavar="S", help="seconds per mutant (default 600)")
    p.add_argument("--resume", metavar="FILE", help="keep the results of this (partial) JSON report and run "
                                                    "only the other mutants")
    p.add_argument("--json", metavar="FILE", help="write the report as JSON (written as results come, complete "
                                                  "at the end); the committed full campaign is "
                                                  "specs/spec-mutation.json")
    p.set_defaults(func=lambda a: _lazy("balloonspec.conformance.spec_mutation", "cmd_spec_mutate")(a))


def _add_docs(sub):
    p = sub.add_parser("docs", help="regenerate specs/ (tables, diagrams, figures, traceability); build the site")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--check", action="store_true", help="only report stale parts and figures (exit 1 if any)")
    g.add_argument("--site", metavar="OUT", help="build the static review site into OUT (offline)")
    g.add_argument("--figure", metavar="ID", help="print the data behind one figure")
    g.add_argument("--scenario", metavar="NAME", help="print a figure's or witness's scenario as JSON "
                                                      "(for `balloonspec run`)")
    p.add_argument("--refresh-history", action="store_true",
                   help="recompute specs/history.json (every published version against the seed) even if its "
                        "inputs did not change; `balloonspec docs` recomputes it when they did")
    p.set_defaults(func=lambda a: _lazy("balloonspec.docs.cli", "cmd_docs")(a))


def _lazy(module: str, name: str):
    """Import a subcommand only when it runs, so `balloonspec --help` stays fast."""
    import importlib

    return getattr(importlib.import_module(module), name)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="balloonspec", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_check, _add_prove, _add_conform, _add_compare, _add_vectors, _add_run, _add_interpret,
                _add_crosscheck, _add_refine, _add_mutate, _add_bench, _add_setup, _add_setup_kernel, _add_docs,
                _add_spec_mutate):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("balloonspec: interrupted", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
