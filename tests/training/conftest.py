import pytest


@pytest.fixture
def base(tmp_path) -> list[str]:
    """A run's arguments that pass the option checks (the tokenizer file is a placeholder: nothing loads it)."""
    tokenizer = tmp_path / "tokenizer.json"
    tokenizer.write_text("{}")
    return ["--model", "sc2-tiny", "--data-path", str(tmp_path / "data"), "--tokenizer-model", str(tokenizer),
            "--seq-length", "64", "--global-batch-size", "4", "--train-iters", "10"]
