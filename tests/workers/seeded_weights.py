"""The same full weights whatever the layout, for workers that compare layouts."""

import torch


def seeded_fill(chunks, scale: float) -> None:
    """Draw each global tensor from a generator keyed by its checkpoint key (layout-independent),
    then keep this rank's shard of it."""
    for chunk in chunks:
        for sh in chunk.sharded_state_dict().values():
            if not hasattr(sh, "global_shape") or sh.data is None:
                continue
            gen = torch.Generator().manual_seed(sum(map(ord, sh.key)) * 7919 + len(sh.key))
            full = torch.randn(sh.global_shape, generator=gen) * scale
            if sh.key.endswith(("layernorm.weight", "layer_norm_weight")):
                full = 1.0 + full
            index = tuple(slice(o, o + n) for o, n in zip(sh.global_offset, sh.data.shape))
            with torch.no_grad():
                sh.data.copy_(full[index])
