"""A scenario: everything the driver's environment does, fixed in advance.

A scenario is data. The model interprets it to predict the driver's trace;
a backend interprets it (through the script text of specs/trace.md) to run a
real driver build. It round-trips through JSON for vectors.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

from balloonspec.model.trace import STEP_KINDS  # numbered as the STEP event reports them
STEPS_WITH_ARG = {"set_target", "set_totalram"}


class ScenarioError(ValueError):
    """A scenario that is not well formed."""


@dataclass(frozen=True)
class SysInfo:
    """What si_meminfo() reports. Every field distinct, so a driver that reads
    the wrong one is caught."""

    uptime: int = 12345
    totalram: int = 262144
    freeram: int = 200003
    sharedram: int = 1111
    bufferram: int = 2222
    totalswap: int = 3333
    freeswap: int = 4444
    procs: int = 55
    totalhigh: int = 6666
    freehigh: int = 7777
    mem_unit: int = 4096


@dataclass(frozen=True)
class HostRule:
    """Calls NTH..NTH+COUNT-1 of command CMD within SCOPE get STATUS/RESULT."""

    cmd: int
    status: int
    nth: int = 1
    count: int = 1
    scope: int = -1  # step index, or -1 for the whole run
    result: int | None = None  # None: the default result of the command


@dataclass(frozen=True)
class AllocRule:
    """Calls NTH..NTH+COUNT-1 of alloc_page(GFP) within SCOPE fail, or get PFN."""

    gfp: int = 0  # 0 matches any flags
    nth: int = 1
    count: int = 1
    scope: int = -1
    fail: bool = True
    pfn: int = 0  # used when fail is False


@dataclass(frozen=True)
class Step:
    kind: str
    arg: int = 0


@dataclass(frozen=True)
class Scenario:
    id: str
    steps: tuple[Step, ...]
    sysinfo: SysInfo = field(default_factory=SysInfo)
    hypervisor: str = "vmware"
    debugfs_error: int = 0
    pfn_base: int = 0x10000
    target: int = 0
    host_rules: tuple[HostRule, ...] = ()
    alloc_rules: tuple[AllocRule, ...] = ()

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if not self.id or any(c.isspace() for c in self.id):
            raise ScenarioError(f"scenario id {self.id!r} must be non-empty without spaces")
        if self.hypervisor not in ("vmware", "none"):
            raise ScenarioError(f"{self.id}: hypervisor must be 'vmware' or 'none'")
        for s in self.steps:
            if s.kind not in STEP_KINDS:
                raise ScenarioError(f"{self.id}: unknown step {s.kind!r}")
            if s.arg < 0 or s.arg >= 1 << 64:
                raise ScenarioError(f"{self.id}: step argument out of range: {s}")
        for r in (*self.host_rules, *self.alloc_rules):
            if r.nth < 1 or r.count < 1 or r.scope < -1 or r.scope >= len(self.steps):
                raise ScenarioError(f"{self.id}: rule out of range: {r}")
        for v in asdict(self.sysinfo).values():
            if not 0 <= v < 1 << 64:
                raise ScenarioError(f"{self.id}: sysinfo value out of range: {v}")

    # -- the script text of specs/trace.md -------------------------------------
    def to_script(self) -> str:
        si = self.sysinfo
        lines = [
            f"# scenario {self.id}",
            "sysinfo " + " ".join(str(getattr(si, f.name)) for f in fields(SysInfo)),
            f"hypervisor {self.hypervisor}",
            f"debugfs_error {self.debugfs_error}",
            f"pfn_base {self.pfn_base}",
            f"target {self.target}",
        ]
        for r in self.host_rules:
            res = "-" if r.result is None else str(r.result)
            lines.append(f"host_rule {r.cmd} {r.scope} {r.nth} {r.count} {r.status} {res}")
        for a in self.alloc_rules:
            outcome = "fail" if a.fail else "pfn"
            lines.append(f"alloc_rule {a.gfp} {a.scope} {a.nth} {a.count} {outcome} {a.pfn}")
        for s in self.steps:
            lines.append(f"step {s.kind} {s.arg}" if s.kind in STEPS_WITH_ARG else f"step {s.kind}")
        return "\n".join(lines) + "\n"

    # -- JSON ----------------------------------------------------------------------
    def to_json(self) -> dict:
        d = asdict(self)
        d["steps"] = [s.kind if s.kind not in STEPS_WITH_ARG else [s.kind, s.arg] for s in self.steps]
        return d

    @classmethod
    def from_json(cls, d: dict) -> "Scenario":
        try:
            steps = tuple(Step(s) if isinstance(s, str) else Step(s[0], int(s[1])) for s in d["steps"])
            return cls(
                id=d["id"],
                steps=steps,
                sysinfo=SysInfo(**d.get("sysinfo", {})),
                hypervisor=d.get("hypervisor", "vmware"),
                debugfs_error=int(d.get("debugfs_error", 0)),
                pfn_base=int(d.get("pfn_base", 0x10000)),
                target=int(d.get("target", 0)),
                host_rules=tuple(HostRule(**r) for r in d.get("host_rules", ())),
                alloc_rules=tuple(AllocRule(**r) for r in d.get("alloc_rules", ())),
            )
        except (KeyError, TypeError, ValueError, IndexError) as e:
            if isinstance(e, ScenarioError):
                raise
            raise ScenarioError(f"malformed scenario {d.get('id', '?') if isinstance(d, dict) else '?'}: {e}") from e

    def with_(self, **changes) -> "Scenario":
        return replace(self, **changes)


def steps(*spec: str | tuple[str, int]) -> tuple[Step, ...]:
    """steps("init", ("cycle", 3), ("set_target", 100), "debugfs") expands
    ("cycle", n) into n cycle steps; other tuples carry the step's argument."""
    out: list[Step] = []
    for s in spec:
        if isinstance(s, str):
            out.append(Step(s))
        elif s[0] == "cycle":
            out.extend(Step("cycle") for _ in range(s[1]))
        else:
            out.append(Step(s[0], s[1]))
    return tuple(out)
