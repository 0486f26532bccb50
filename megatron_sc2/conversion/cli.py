"""`convert_checkpoint export|import`: our checkpoints <-> Hugging Face StarCoder2 folders."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from torch.distributed.checkpoint.api import CheckpointException

from megatron_sc2.conversion.convert import export_to_hf, import_from_hf
from megatron_sc2.conversion.hf_io import DTYPES, ConversionError, parse_size
from megatron_sc2.publish import OutputBusy, write_failure
from megatron_sc2.runtime import expected_warnings

DESCRIPTION = """\
Convert between megatron_sc2 training checkpoints and Hugging Face Starcoder2ForCausalLM folders.
Tensors are streamed one at a time: memory stays at a few tensors whatever the model size.
Output goes to a hidden staging folder that is renamed at the end: a failed run leaves no
complete-looking output. A run owns its output while it writes (an import takes the checkpoint
folder's lock, as training does): a second run on the same output is refused."""

EXPORT_HELP = """\
Export a checkpoint saved under any TP/PP layout to an HF folder (config.json, safetensors shards
with an index, generation_config.json, tokenizer files). Vocab padding is removed; the model
config comes from the checkpoint's own sc2_checkpoint.json."""

IMPORT_HELP = """\
Import an HF StarCoder2 folder (safetensors only) as iteration 0 of a new checkpoint holding model
weights only, which `pretrain --load CKPT_DIR` continues from with a fresh optimizer. The vocab is
padded for the given tensor-parallel size; any pipeline size loads it."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(allow_abbrev=False, prog="convert_checkpoint", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    export = commands.add_parser("export", help="our checkpoint -> HF folder", description=EXPORT_HELP,
                                 formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    export.add_argument("--load", type=Path, required=True, metavar="CKPT_DIR",
                        help="checkpoint folder (holding latest_checkpointed_iteration.txt and iter_*/)")
    export.add_argument("--iteration", type=int, default=None, metavar="N",
                        help="iteration to export (default: the latest)")
    export.add_argument("--output", type=Path, required=True, metavar="HF_DIR",
                        help="new folder to write (must not exist, or be empty)")
    export.add_argument("--tokenizer-model", type=Path, default=None, metavar="PATH",
                        help="HF tokenizer.json (or a folder with one) to include")
    export.add_argument("--dtype", choices=sorted(DTYPES), default=None,
                        help="dtype of the exported weights (default: as stored in the checkpoint)")
    export.add_argument("--max-shard-size", default="5GB", metavar="SIZE",
                        help="largest safetensors shard, e.g. 5GB or 500MiB (default: 5GB)")

    imp = commands.add_parser("import", help="HF folder -> our checkpoint", description=IMPORT_HELP,
                              formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    imp.add_argument("--hf", type=Path, required=True, metavar="HF_DIR", help="HF Starcoder2ForCausalLM folder")
    imp.add_argument("--save", type=Path, required=True, metavar="CKPT_DIR",
                     help="new checkpoint folder (must not already hold a checkpoint)")
    imp.add_argument("--tensor-model-parallel-size", type=int, default=1, metavar="T",
                     help="TP size training will use: sets the vocab padding (default: 1)")
    imp.add_argument("--pipeline-model-parallel-size", type=int, default=1, metavar="P",
                     help="PP size training will use, validated against the layer count (default: 1)")
    for sub in (export, imp):
        sub.add_argument("--no-progress", action="store_true", help="no progress bar")
        sub.add_argument("--allow-nonfinite", action="store_true",
                         help="convert weights holding NaN/Inf (named in a warning) instead of refusing them")
    return parser


def main(argv: list[str] | None = None) -> int:
    expected_warnings.hide()  # before megatron-core's imports warn
    args = build_parser().parse_args(argv)
    try:
        if args.command == "export":
            summary = export_to_hf(
                args.load, args.output, iteration=args.iteration, tokenizer_model=args.tokenizer_model,
                dtype=DTYPES[args.dtype] if args.dtype else None, max_shard_bytes=parse_size(args.max_shard_size),
                progress=not args.no_progress, allow_nonfinite=args.allow_nonfinite,
            )
        else:
            summary = import_from_hf(
                args.hf, args.save, tensor_parallel=args.tensor_model_parallel_size,
                pipeline_parallel=args.pipeline_model_parallel_size, progress=not args.no_progress,
                allow_nonfinite=args.allow_nonfinite,
            )
    except (ConversionError, OutputBusy, ValueError) as e:
        print(f"convert_checkpoint {args.command}: error: {e}", file=sys.stderr)
        return 2
    except (OSError, RuntimeError, CheckpointException) as e:  # the last: torch's writer, as a BaseException
        written = write_failure(e, args.output if args.command == "export" else args.save)
        if written is None:
            raise
        print(f"convert_checkpoint {args.command}: error: {written}; nothing was written", file=sys.stderr)
        return 2
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
