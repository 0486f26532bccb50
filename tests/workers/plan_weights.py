"""Print, as JSON, each layout's planned parameters and rank-0 states (weights, gradients, optimizer)
from megatron_sc2.planning, for tests/planning/test_references.py. One process for all layouts: the
fake world needs a process without a process group.

usage: plan_weights.py TOKENIZER SIZE:TP:PP:WORLD[:replicated] ...
"""

import json
import sys
import warnings

warnings.simplefilter("ignore")
from megatron_sc2.planning.plan import stage_weights
from megatron_sc2.training.arguments import parse_args

tokenizer, layouts = sys.argv[1], sys.argv[2:]
results = {}
for layout in layouts:
    size, tp, pp, world, *optimizer = layout.split(":")
    args = ["--config", f"examples/configs/sc2-{size}.yaml", "--data-path", "unused", "--tokenizer-model", tokenizer,
            "--save", "unused", "--vocab-size", "49152", "--tensor-model-parallel-size", tp,
            "--pipeline-model-parallel-size", pp]
    if optimizer == ["replicated"]:
        args.append("--no-use-distributed-optimizer")
    run = parse_args(args, world_size=int(world))
    ranks = stage_weights(run, run.stages[0], int(world))
    first = ranks[0].weights
    results[layout] = {
        "total_parameters": sum(r.weights.model_parameters for r in ranks),
        "rank0_parameters": first.parameters,
        "rank0_states_bytes": first.weights_bytes + first.grads_bytes + first.optimizer_bytes,
    }
print(json.dumps(results))
