"""`balloonspec docs`: regenerate, check, print a figure's data or scenario, build the site."""
from __future__ import annotations

import json
import sys

EXIT_OK, EXIT_STALE, EXIT_ERROR = 0, 1, 2


def _progress(msg: str) -> None:
    print(f"balloonspec docs: {msg}", file=sys.stderr, flush=True)


def cmd_docs(args) -> int:
    from balloonspec import docs

    try:
        if args.figure:
            return _figure(args.figure)
        if args.scenario:
            return _scenario(args.scenario)
        if args.site:
            from .site import SiteError, build

            try:
                index = build(args.site, progress=_progress)
            except SiteError as e:
                print(f"balloonspec docs: {e}", file=sys.stderr)
                return EXIT_ERROR
            print(f"site: {index}")
            return EXIT_OK
        if args.check:
            names = docs.stale(progress=_progress)
            for n in names:
                print(f"stale: specs/{n}")
            if names:
                print("run `balloonspec docs` to regenerate", file=sys.stderr)
            return EXIT_STALE if names else EXIT_OK
        for n in docs.regenerate(progress=_progress):
            print(f"rewrote: specs/{n}")
        return EXIT_OK
    except FileNotFoundError as e:  # gcc, gcov or dot missing
        print(f"balloonspec docs: a tool is missing: {e} (run `balloonspec setup`)", file=sys.stderr)
        return EXIT_ERROR


def _figure(fid: str) -> int:
    from .figures import FIGURES, figure_data

    if fid not in FIGURES:
        print(f"balloonspec docs: no figure {fid!r}; known: {', '.join(FIGURES)}", file=sys.stderr)
        return EXIT_ERROR
    data = figure_data(FIGURES[fid])
    rows = data["rows"]
    cols = list(rows[0]) if rows else []
    print(f"# figure {fid}: {FIGURES[fid].title} (scenario {data['scenario']})")
    print("\t".join(cols))
    for r in rows:
        print("\t".join(str(r[c]) for c in cols))
    return EXIT_OK


def _scenario(name: str) -> int:
    from .figures import SCENARIOS, scenario

    if name not in SCENARIOS:
        print(f"balloonspec docs: no scenario {name!r}; known: {', '.join(sorted(SCENARIOS))}", file=sys.stderr)
        return EXIT_ERROR
    print(json.dumps(scenario(name).to_json(), indent=1))
    return EXIT_OK
