"""The command line end to end: import, then export with a tokenizer, through tools/convert_checkpoint.py."""

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

from conversion.tiny import Tiny, make_hf

from megatron_sc2.conversion.cli import main

REPO = Path(__file__).resolve().parents[2]


def train_tokenizer(path: Path) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from megatron_sc2.data.special_tokens import EOD

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    sources = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))[:20]
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=[EOD, "<fim_prefix>"])
    tokenizer.train_from_iterator((p.read_text(errors="ignore") for p in sources), trainer)
    tokenizer.save(str(path))
    return path


def test_import_then_export_with_tokenizer(tmp_path, capsys):
    from transformers import AutoTokenizer

    make_hf(tmp_path / "hf", Tiny(2, True, None))
    assert main(["import", "--hf", str(tmp_path / "hf"), "--save", str(tmp_path / "ckpt"),
                 "--tensor-model-parallel-size", "2", "--pipeline-model-parallel-size", "2", "--no-progress"]) == 0
    report = capsys.readouterr().out
    assert "vocab padded 1000 -> 1024 rows" in report and "--pipeline-model-parallel-size 2" in report
    info = json.loads((tmp_path / "ckpt" / "iter_0000000" / "sc2_checkpoint.json").read_text())
    assert info["model_only"] is True and info["parallel"]["tensor_model_parallel_size"] == 2
    assert (tmp_path / "ckpt" / "latest_checkpointed_iteration.txt").read_text().strip() == "0"

    tokenizer_json = train_tokenizer(tmp_path / "tokenizer.json")
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "convert_checkpoint.py"), "export", "--load", str(tmp_path / "ckpt"),
         "--output", str(tmp_path / "out"), "--tokenizer-model", str(tokenizer_json), "--dtype", "bf16"],
        capture_output=True, text=True, cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "export: 100%" in result.stderr  # the progress bar
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
            "tokenizer_config.json"} <= set(written), written
    assert f"files: {', '.join(written)}" in result.stdout

    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "out")
    eod = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    assert tokenizer.eos_token_id == eod
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    generation = json.loads((tmp_path / "out" / "generation_config.json").read_text())
    assert config["eos_token_id"] == generation["eos_token_id"] == eod
    assert config["torch_dtype"] == "bfloat16"
    from tokenizers import Tokenizer

    text = "def add(a, b):\n    return a + b\n<|endoftext|>"
    ids = tokenizer(text)["input_ids"]
    assert ids == Tokenizer.from_file(str(tokenizer_json)).encode(text).ids and ids[-1] == eod
    assert tokenizer.decode(ids) == text
