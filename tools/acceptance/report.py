"""What a section hands back: named figures, pass/fail/skip checks and measurements, printed as one table."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Check:
    name: str
    ok: bool | None  # None: skipped, with the reason in detail
    detail: str = ""
    measured: bool = False  # a figure that has no pass mark (a speed against a goal): it ran, ok is True
    over_goal: bool = False  # a measured figure beyond its goal: not a failure, but said at the end


@dataclass
class Section:
    name: str
    figures: dict = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0

    def check(self, name: str, ok: bool | None, detail: str = "") -> bool | None:
        self.checks.append(Check(name, None if ok is None else bool(ok), detail))
        return ok

    def skip(self, name: str, reason: str) -> None:
        self.check(name, None, reason)

    def measure(self, name: str, detail: str, over_goal: bool = False) -> None:
        self.checks.append(Check(name, True, detail, measured=True, over_goal=over_goal))


def failed(sections: list[Section]) -> list[str]:
    return [f"{s.name}: {c.name}" for s in sections for c in s.checks if c.ok is False]


def over_goal(sections: list[Section]) -> list[str]:
    return [f"{s.name}: {c.name} {c.detail.split(' ')[0]}" for s in sections for c in s.checks if c.over_goal]


def verdict(sections: list[Section]) -> str:
    """The last line: what failed, else that all passed, naming any figure over its goal."""
    if failed(sections):
        return "FAILED: " + "; ".join(failed(sections))
    over = over_goal(sections)
    return "all checks passed" + (f"; over their goal (figures, not checks): {'; '.join(over)}" if over else "")


def table(sections: list[Section]) -> str:
    """The checks and the scalar figures, one row each."""
    status = {True: "PASS", False: "FAIL", None: "skip"}
    rows = []
    for s in sections:
        rows.append(f"== {s.name} ({s.seconds:.0f} s)")
        rows += [f"  {'ran' if c.measured else status[c.ok]:4}  {c.name}" + (f": {c.detail}" if c.detail else "")
                 for c in s.checks]
        rows += [f"        {key} = {_fmt(value)}" for key, value in s.figures.items() if not isinstance(value, (dict, list))]
    return "\n".join(rows)


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
