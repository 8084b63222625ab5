"""The CLI's C front end commands: ``interpret`` and ``crosscheck``.

Every ``CFrontError`` (a construct outside the supported C subset, a driver
fault, a preprocessor or parse error) becomes one message naming the file and
line, and exit code 2."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from balloonspec import SEED_DRIVER

from .errors import CFrontError

EXIT_OK, EXIT_DIVERGENCE, EXIT_ERROR = 0, 1, 2


def _err(msg: str) -> int:
    print(f"balloonspec: {msg}", file=sys.stderr)
    return EXIT_ERROR


def _driver(arg: str | None) -> Path:
    path = Path(arg) if arg else SEED_DRIVER
    if not path.is_file():
        raise FileNotFoundError(f"driver source not found: {path}")
    return path


def cmd_interpret(args) -> int:
    """Run one scenario (or a vector's scenario and configuration) on the
    interpreted C of a driver source and print the trace."""
    from balloonspec.model.scenario import Scenario, ScenarioError
    from balloonspec.model.trace import format_event

    from .run import predict_c

    try:
        driver = _driver(args.driver)
        doc = json.loads(Path(args.scenario).read_text())
        debugfs = not args.no_debugfs
        if isinstance(doc, dict) and "scenario" in doc:  # a vector
            debugfs = bool(doc.get("config", {}).get("debugfs", True)) and debugfs
            doc = doc["scenario"]
        scenario = Scenario.from_json(doc)
    except (OSError, json.JSONDecodeError, ScenarioError) as e:
        return _err(str(e))
    try:
        pred = predict_c(driver, scenario, debugfs=debugfs)
    except CFrontError as e:
        return _err(str(e))
    for i, e in enumerate(pred.events):
        print(f"{i:6} {format_event(e)}")
    print("verdict: " + ("hung (event budget exhausted)" if pred.hung else "ok"))
    return EXIT_OK


def cmd_crosscheck(args) -> int:
    """The interpreted C against the compiled C on every vector: event for event."""
    from balloonspec.conformance import vectors as V
    from balloonspec.conformance.commands import SHIPPED_VECTORS
    from balloonspec.driver.build import BuildError

    from .crosscheck import crosscheck

    try:
        driver = _driver(args.driver)
        vecs, bad = V.load_dir(Path(args.vectors) if args.vectors else SHIPPED_VECTORS)
    except FileNotFoundError as e:
        return _err(str(e))
    for e in bad:
        print(f"balloonspec: {e}", file=sys.stderr)

    def show(c) -> None:
        line = f"{c.status:8} {c.id:42} interpreted {c.interpret_s:7.3f}s  both {c.wall_s:6.3f}s"
        if c.backdoor_calls:
            line += f"  {c.backdoor_calls} backdoor calls ({c.backdoor_calls / max(c.interpret_s, 1e-9):.0f}/s interpreted)"
        print(line, flush=True)
        if c.status != "same":
            print("  " + (c.divergence or c.message).replace("\n", "\n  "), flush=True)

    try:
        summary = crosscheck(driver, vecs, on_check=show)
    except BuildError as e:
        return _err(f"the driver does not compile: {e}")
    j = summary.to_json()
    busiest, slowest = j["busiest"], j["slowest"]
    print(f"crosscheck {j['verdict']}: {j['same']}/{j['vectors']} vectors identical, {j['seconds']:.1f}s "
          f"(interpreter {j['interpret_seconds']:.1f}s); slowest {slowest['id']} {slowest['interpret_s']:.2f}s; "
          f"interpreter rate {busiest['interpret_calls_per_s']} backdoor calls/s on {busiest['id']}")
    if args.json:
        Path(args.json).write_text(json.dumps(j, indent=1) + "\n")
    if bad or j["verdict"] == "error":
        return EXIT_ERROR
    return EXIT_OK if j["verdict"] == "same" else EXIT_DIVERGENCE
