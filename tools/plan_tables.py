#!/usr/bin/env python
"""Write the planned memory the repository quotes, from the planner: the memory block of each
launcher's header (examples/pretrain_sc2_{3b,7b,15b}.sh), the layout table of docs/training.md and
its 15B plans at 16 and 128 nodes ("Planning a launch"). Each recipe is planned as its launcher plans it
with DRY_RUN=1 and no data, tokenizer or checkpoint folder (so with the model's vocabulary, StarCoder2's
49,152 tokens), at the node counts it runs on (8 GPUs each).

  python tools/plan_tables.py           # rewrite the blocks
  python tools/plan_tables.py --check   # rewrite nothing; exit 1 naming each stale block
"""

from __future__ import annotations

import argparse
import re
import sys
import warnings
from pathlib import Path

from megatron_sc2.support import REPO

GPUS_PER_NODE = 8
NODES = {"3b": (1, 32), "7b": (4, 32), "15b": (4, 128)}  # the node counts each recipe runs on
DOC_NODES = (16, 128)  # the 15B plans docs/training.md prints
TERMS = ("weights", "grads", "optimizer", "activations", "logits", "total")
DOCS = REPO / "docs" / "training.md"


def plan(size: str, nodes: int):
    """(plan, run) of the recipe at `nodes` nodes, as `DRY_RUN=1 examples/pretrain_sc2_SIZE.sh` plans it."""
    from megatron_sc2.planning.cli import make_plan

    return make_plan(["--config", str(REPO / f"examples/configs/sc2-{size}.yaml")], nodes * GPUS_PER_NODE)


def header_block(size: str, plans: dict) -> list[str]:
    lines = [f"# Memory per GPU (GiB of 80), planned by `DRY_RUN=1 examples/pretrain_sc2_{size}.sh` on a CPU",
             "# (docs/training.md, \"Planning a launch\"; tools/plan_tables.py writes this block):",
             "#   nodes  stage            " + "  ".join(f"{t:>7}" for t in TERMS)]
    for nodes, (launch, _) in plans.items():
        for stage in launch.stages:
            memory = max(stage.ranks, key=lambda r: r.memory_gib["total"]).memory_gib
            lines.append(f"#   {nodes:>5}  {stage.name:<16} " + "  ".join(f"{memory[t]:>{max(7, len(t))}.1f}"
                                                                         for t in TERMS))
    lines.append("# CUDA context, NCCL buffers and allocator slack (a few GiB) come on top.")
    return lines


def layout_rows(plans_by_size: dict) -> list[str]:
    lines = ["| | TP | PP | DP on N nodes of 8 | nodes | GiB/GPU at 4k | GiB/GPU at 16k |", "|---|---|---|---|---|---|---|"]
    for size, plans in plans_by_size.items():
        launch = next(iter(plans.values()))[0]
        low, high = NODES[size]
        totals = [[max(r.memory_gib["total"] for r in p.stages[i].ranks) for p, _ in plans.values()] for i in (0, 1)]
        ranges = [f"{min(t):.0f}-{max(t):.0f}" for t in totals]
        lines.append(f"| {size.upper()} | {launch.tp} | {launch.pp} | {GPUS_PER_NODE // (launch.tp * launch.pp)}N | "
                     f"{low}-{high} | {ranges[0]} | {ranges[1]} |")
    return lines


def doc_plans(plans: dict) -> list[str]:
    from megatron_sc2.planning.report import table

    lines = []
    for nodes in DOC_NODES:
        launch, run = plans[nodes]
        lines += ["```", f"$ DRY_RUN=1 NNODES={nodes} examples/pretrain_sc2_15b.sh", table(launch, run), "```", ""]
    return lines[:-1]


def replace_block(text: str, begin: str, end: str, lines: list[str], where: Path) -> str:
    pattern = re.compile(rf"(^{re.escape(begin)}.*?\n)(.*?)(^{re.escape(end)}.*?$)", re.DOTALL | re.MULTILINE)
    if not pattern.search(text):
        raise SystemExit(f"{where}: no block between '{begin}' and '{end}'")
    return pattern.sub(lambda m: m[1] + "\n".join(lines) + "\n" + m[3], text, count=1)


def generated() -> dict[Path, str]:
    """Each file's text with its blocks as the planner gives them now."""
    warnings.simplefilter("ignore")
    plans_by_size = {size: {nodes: plan(size, nodes) for nodes in sorted({*NODES[size], *(DOC_NODES if size == "15b"
                                                                                       else ())})}
                     for size in NODES}
    files = {}
    for size, plans in plans_by_size.items():
        path = REPO / "examples" / f"pretrain_sc2_{size}.sh"
        header = {nodes: plans[nodes] for nodes in NODES[size]}
        files[path] = replace_block(path.read_text(), "# BEGIN planned memory", "# END planned memory",
                                    header_block(size, header), path)
    text = replace_block(DOCS.read_text(), "<!-- BEGIN planned layouts", "<!-- END planned layouts",
                         layout_rows(plans_by_size), DOCS)
    files[DOCS] = replace_block(text, "<!-- BEGIN planned 15B", "<!-- END planned 15B", doc_plans(plans_by_size["15b"]),
                                DOCS)
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--check", action="store_true", help="rewrite nothing; exit 1 naming each stale file")
    args = parser.parse_args()
    stale = []
    for path, text in generated().items():
        if path.read_text() == text:
            continue
        stale.append(path)
        if not args.check:
            path.write_text(text)
    for path in stale:
        verb = "is stale: run python tools/plan_tables.py" if args.check else "rewritten"
        print(f"{path.relative_to(REPO)}: {verb}", file=sys.stderr if args.check else sys.stdout)
    sys.exit(1 if stale and args.check else 0)


if __name__ == "__main__":
    main()
