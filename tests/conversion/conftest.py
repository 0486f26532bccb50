import pytest
import torch
from conversion.tiny import VOCAB


@pytest.fixture
def tokens(tmp_path) -> torch.Tensor:
    ids = torch.randint(0, VOCAB, (2, 24), generator=torch.Generator().manual_seed(1))
    torch.save(ids, tmp_path / "tokens.pt")
    return ids
