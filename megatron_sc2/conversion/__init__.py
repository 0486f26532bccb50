"""HF Starcoder2ForCausalLM <-> megatron-core checkpoint conversion, streamed tensor by tensor."""

from megatron_sc2.conversion.convert import export_to_hf, import_from_hf
from megatron_sc2.conversion.hf_io import ConversionError

__all__ = ["ConversionError", "export_to_hf", "import_from_hf"]
