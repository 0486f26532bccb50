#!/usr/bin/env bash
# From a published dataset to a training run (docs/published-datasets.md), for one source:
#   fetch its contents from Software Heritage -> curate -> preprocess with repository context ->
#   the recipe's --data-path -> pretrain. Extra arguments go to megatron_sc2.pretrain.
#
#   IDS=the-stack-v2-train-smol-ids/data SOURCE=the-stack-v2-train-smol TOKENIZER=sc2-tokenizer/ \
#   MALWARE_DB=clamav-db/ RECIPE=examples/data/sc2-3b.yaml TRAIN_TOKENS=3.1e12 MODEL=sc2-3b WORK=/scratch/sc2 \
#   examples/data/published_to_training.sh --config examples/configs/sc2-3b.yaml ...
#
# MALWARE_DB: ClamAV's signature folder (docs/curation.md, "Malware removal"). ENDPOINT_URL: an S3-compatible
# endpoint instead of AWS. A recipe of several sources wants every source's
# dataset in $WORK/tok (this script once per source, each with its SOURCE; the extras from their Parquet files).
set -euo pipefail
: "${IDS:?}" "${SOURCE:?}" "${TOKENIZER:?}" "${MALWARE_DB:?}" "${RECIPE:?}" "${TRAIN_TOKENS:?}" "${MODEL:?}" "${WORK:?}"
PYTHON=${PYTHON:-python}
cd "$(dirname "$0")/../.."

$PYTHON tools/fetch_contents.py --input "$IDS" --output "$WORK/fetched/$SOURCE" --source "$SOURCE" \
    ${ENDPOINT_URL:+--endpoint-url "$ENDPOINT_URL"}
$PYTHON tools/curate.py --input "$WORK/fetched/$SOURCE/data" --output "$WORK/curated/$SOURCE" \
    --malware-db "$MALWARE_DB"
mkdir -p "$WORK/tok"
$PYTHON tools/preprocess_data.py --input "$WORK/curated/$SOURCE/data" --output-prefix "$WORK/tok/$SOURCE" \
    --tokenizer-type HuggingFaceTokenizer --tokenizer-model "$TOKENIZER" --repo-context
DATA_PATH=$($PYTHON tools/blend_data_path.py --recipe "$RECIPE" --train-tokens "$TRAIN_TOKENS" \
    "$WORK"/tok/*_content_document.manifest.json)
# shellcheck disable=SC2086  # "--data-path W1 P1 W2 P2 ...": words
$PYTHON -m megatron_sc2.pretrain --model "$MODEL" $DATA_PATH --tokenizer-model "$TOKENIZER" "$@"
