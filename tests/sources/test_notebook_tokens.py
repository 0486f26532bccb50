"""The special tokens the notebook, Kaggle and IR renderers write encode as one special id each with the project's
tokenizer (one trained by tools/train_tokenizer.py, which adds StarCoder2's special tokens)."""

import json
import random
import re
import subprocess
import sys
from pathlib import Path

from sources.notebook_planted import IR, KAGGLE, KAGGLE_DATASET, NOTEBOOKS

from megatron_sc2.data.special_tokens import SPECIAL_TOKENS
from megatron_sc2.data.tokenizer import load_tokenizer
from megatron_sc2.sources import ir, jupyter_scripts, jupyter_structured, kaggle

REPO_ROOT = Path(__file__).resolve().parents[2]
SPECIAL = re.compile("|".join(re.escape(token) for token in SPECIAL_TOKENS))


def rendered() -> list[str]:
    rng = random.Random(0)
    notebook = {"content": NOTEBOOKS["python"]}
    return [
        jupyter_structured.render(notebook, rng, jupyter_structured.Options()),
        jupyter_scripts.render(notebook, rng, jupyter_scripts.Options()),
        kaggle.render({"content": KAGGLE["template"], **KAGGLE_DATASET}, rng, kaggle.Options(1.0, 1.0)),
        ir.render(IR["complete"], rng, ir.Options(1.0, 1.0)),
        ir.render(IR["complete"], rng, ir.Options(0.0, 1.0)),
    ]


def test_special_tokens_encode_as_single_ids(tmp_path):
    texts = rendered()
    corpus = tmp_path / "rendered.jsonl"
    corpus.write_text("".join(json.dumps({"content": text}) + "\n" for text in texts))
    subprocess.run([sys.executable, str(REPO_ROOT / "tools" / "train_tokenizer.py"), str(corpus),
                    "--output-dir", str(tmp_path / "tokenizer"), "--vocab-size", "400"],
                   check=True, capture_output=True)
    tokenizer = load_tokenizer("HuggingFaceTokenizer", tmp_path / "tokenizer")
    written = set()
    for text in texts:
        tokens = SPECIAL.findall(text)
        ids = tokenizer.encode(text)
        special_ids = [i for i in ids if i in tokenizer.special_ids]
        assert special_ids == [tokenizer.token_id(token) for token in tokens]
        assert tokenizer.decode(ids) == text
        written.update(tokens)
    assert written == {"<jupyter_start>", "<jupyter_text>", "<jupyter_code>", "<jupyter_output>", "<empty_output>",
                       "<jupyter_script>", "<code_to_intermediate>", "<intermediate_to_code>"}
