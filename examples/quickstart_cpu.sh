#!/usr/bin/env bash
# The whole path on a CPU: Python's standard library as a code corpus -> tokenizer ->
# repository-context dataset -> tiny StarCoder2 pretrained with TP=2 through both context
# stages -> Hugging Face export that generates -> evaluation (perplexity on the training data,
# a handful of HumanEval problems). Run from the repo root in the set-up venv.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/quickstart}
# Only a folder this script made (it leaves a mark there) is replaced: OUT may name anything.
MARK="$OUT/.quickstart-output"
if [ -e "$OUT" ] && [ ! -f "$MARK" ] && [ -n "$(ls -A "$OUT")" ]; then
  echo "quickstart_cpu.sh: OUT=$OUT exists and is not a quick-start output (no $MARK); choose another OUT" >&2
  exit 2
fi
rm -rf "$OUT" && mkdir -p "$OUT" && touch "$MARK"

echo "== 1/6 corpus: Python's standard library as JSONL (without the codec tables and pydoc's text)"
python tools/make_stdlib_corpus.py "$OUT/stdlib.jsonl" --exclude encodings pydoc_data

echo "== 2/6 tokenizer: byte-level BPE with StarCoder2's special tokens"
python tools/train_tokenizer.py "$OUT/stdlib.jsonl" --output-dir "$OUT/tokenizer" --vocab-size 1024

echo "== 3/6 preprocess: one document per repository, StarCoder2 format"
python tools/preprocess_data.py --input "$OUT/stdlib.jsonl" --output-prefix "$OUT/stdlib" \
  --tokenizer-type HuggingFaceTokenizer --tokenizer-model "$OUT/tokenizer" --repo-context --workers 2

echo "== 4/6 pretrain: sc2-tiny, TP=2 on 2 CPU processes, stage 1 then stage 2"
python -m torch.distributed.run --nproc-per-node 2 -m megatron_sc2.pretrain \
  --config examples/configs/quickstart_cpu.yaml \
  --data-path "$OUT/stdlib_content_document" --data-cache-path "$OUT/cache" \
  --tokenizer-model "$OUT/tokenizer" --save "$OUT/checkpoints" \
  --metrics-file "$OUT/metrics.jsonl" --tensorboard-dir "$OUT/tensorboard"
python tools/plot_metrics.py "$OUT/metrics.jsonl" -o "$OUT/loss.png" --title "sc2-tiny on CPU, TP=2"

echo "== 5/6 export to Hugging Face and generate"
python tools/convert_checkpoint.py export --load "$OUT/checkpoints" --output "$OUT/hf" \
  --tokenizer-model "$OUT/tokenizer" --no-progress
python - "$OUT" <<'PY'
import json, sys
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

out = sys.argv[1]
losses = [m["loss"] for m in map(json.loads, open(f"{out}/metrics.jsonl")) if m.get("loss") is not None]
print(f"training loss: first {losses[0]:.3f} -> last {losses[-1]:.3f}")
tokenizer = AutoTokenizer.from_pretrained(f"{out}/hf")
model = AutoModelForCausalLM.from_pretrained(f"{out}/hf")
prompt = tokenizer("def read_config(path):\n", return_tensors="pt")
torch.manual_seed(0)  # greedy decoding of a model this small repeats one token (a newline); sample instead
generated = model.generate(**prompt, max_new_tokens=48, do_sample=True, temperature=0.5, top_k=20,
                           repetition_penalty=1.15, pad_token_id=tokenizer.eos_token_id)
print("HF generation (sampled):\n" + tokenizer.decode(generated[0]))
if not losses[-1] < losses[0] - 1.0:
    sys.exit("the loss did not fall")
PY
echo "== 6/6 evaluate: perplexity and 5 HumanEval problems, generated code run in the sandbox"
python tools/evaluate.py --model "$OUT/hf" --tasks perplexity,humaneval --limit 5 --max-new-tokens 64 \
  --perplexity-data "$OUT/stdlib_content_document" --seq-length 256 --perplexity-tokens 20000 \
  --allow-code-execution --output "$OUT/eval" --no-progress
echo "done: $OUT/loss.png, $OUT/hf, $OUT/metrics.jsonl, $OUT/eval/summary.json"
