"""Activation memory of one microbatch, measured: full-size layers of the stage run forward and
backward under `FakeTensorMode` (shapes and dtypes, no data), with torch's memory tracker
(`torch.distributed._tools.mem_tracker.MemTracker`) counting every tensor the layer code keeps.

Four small chunks are measured per stage, built as this rank builds them (TP, sequence parallel,
recompute, the stage's length and window): one layer and two layers without embedding or output
(their difference is what each further layer keeps, the one-layer chunk gives the backward's
working memory on top), one layer after the embedding, and one layer before the output layer and
the loss (the logits and the cross entropy, in fp32 over the vocabulary shard). Parameter
gradients are left out: they live in DDP's buffers, counted with the weights.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from megatron_sc2.planning.layer_spec import planning_spec


@dataclass(frozen=True)
class Measured:
    stored: int  # bytes kept after forward, for backward
    peak: int  # bytes above the start at the peak of forward + backward


@dataclass(frozen=True)
class StageActivations:
    """Bytes per microbatch, from the four measured chunks."""

    per_layer: int  # kept by each transformer layer
    chunk: int  # kept by a chunk besides its layers: its input (received, or the embedding's output)
    working: int  # backward's working memory above what is kept
    logits: int  # the output layer and the loss above a plain chunk's peak (last stage)

    def kept(self, layers: int) -> int:
        """Bytes a chunk of `layers` layers keeps for one microbatch in flight."""
        return self.chunk + layers * self.per_layer


def _total(snapshot: dict) -> int:
    return sum(values["Total"] for values in snapshot.values())


def _drop_each_gradient(module) -> None:
    """A parameter's gradient goes into DDP's fp32 buffer (counted with the weights) as soon as it
    is made, as megatron-core's gradient hook does: only one is alive at a time."""
    for parameter in module.parameters():
        parameter.register_post_accumulate_grad_hook(lambda p: setattr(p, "grad", None))


def measure_chunk(transformer_config, vocab_size: int, *, layers: int, pre_process: bool, post_process: bool,
                  seq_length: int, micro_batch_size: int, rotary_base: float, gpu_attention: bool) -> Measured:
    """One microbatch through a chunk of `layers` full-size layers, inside a fake world."""
    from megatron.core import parallel_state
    from megatron.core.models.gpt import GPTModel
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.distributed._tools.mem_tracker import MemTracker

    pp = parallel_state.get_pipeline_model_parallel_world_size()
    vpp = parallel_state.get_virtual_pipeline_model_parallel_world_size() or 1
    config = replace(transformer_config, num_layers=layers * pp * vpp)
    tp = config.tensor_model_parallel_size
    with FakeTensorMode(allow_non_fake_inputs=True):
        chunk = GPTModel(
            config=config, transformer_layer_spec=planning_spec(layers, gpu_attention), vocab_size=vocab_size,
            max_sequence_length=seq_length, pre_process=pre_process, post_process=post_process,
            share_embeddings_and_output_weights=False, position_embedding_type="rope", rotary_percent=1.0,
            rotary_base=rotary_base, parallel_output=True, vp_stage=0 if vpp > 1 else None,
        )
        tokens = torch.zeros(micro_batch_size, seq_length, dtype=torch.long)
        positions = torch.arange(seq_length).expand(micro_batch_size, -1)
        hidden = None
        if not pre_process:
            local_seq = seq_length // tp if config.sequence_parallel else seq_length
            hidden = torch.zeros(local_seq, micro_batch_size, config.hidden_size, dtype=config.params_dtype,
                                 requires_grad=True)
        _drop_each_gradient(chunk)
        tracker = MemTracker()
        tracker.track_external(chunk, *(t for t in (tokens, positions, hidden) if t is not None))
        with tracker:
            start = _total(tracker.get_tracker_snapshot())
            if hidden is not None:
                chunk.set_input_tensor(hidden)
            output = chunk(tokens, positions, attention_mask=None, labels=tokens if post_process else None)
            kept = _total(tracker.get_tracker_snapshot()) - start
            gradient = torch.ones_like(output) if not post_process else None
            (output.sum() if post_process else output).backward(gradient)
        peak = _total(tracker.get_tracker_snapshot("peak")) - start
    return Measured(stored=kept, peak=peak)


def measure_stage(transformer_config, vocab_size: int, *, seq_length: int, micro_batch_size: int,
                  rotary_base: float, gpu_attention: bool) -> StageActivations:
    def measure(layers, pre=False, post=False):
        return measure_chunk(transformer_config, vocab_size, layers=layers, pre_process=pre, post_process=post,
                             seq_length=seq_length, micro_batch_size=micro_batch_size, rotary_base=rotary_base,
                             gpu_attention=gpu_attention)

    measure(1)  # the first run fills process-wide caches (causal masks, RoPE tables)
    one, two = measure(1), measure(2)
    first, last = measure(1, pre=True), measure(1, post=True)
    per_layer = two.stored - one.stored
    received = input_bytes(transformer_config, seq_length, micro_batch_size)
    return StageActivations(
        per_layer=per_layer,
        chunk=one.stored - per_layer + max(received, first.stored - one.stored),
        working=max(0, one.peak - one.stored),
        logits=max(0, last.peak - one.peak),
    )


def input_bytes(transformer_config, seq_length: int, micro_batch_size: int) -> int:
    """The activation a chunk receives from the previous stage, kept by the schedule until backward."""
    tp = transformer_config.tensor_model_parallel_size
    local_seq = seq_length // tp if transformer_config.sequence_parallel else seq_length
    return local_seq * micro_batch_size * transformer_config.hidden_size * transformer_config.params_dtype.itemsize
