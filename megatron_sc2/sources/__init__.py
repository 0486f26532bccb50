"""StarCoder2's non-code sources (paper §5.2-5.6) as datatrove blocks: raw records -> the source's filters ->
pseudonyms -> its renderer -> StarCoder2 text with the source's special tokens. See docs/sources.md.

A source is one module (its raw format, filters, pseudonyms and renderer) and one line of `SOURCES`. The
document sources (notebooks, Kaggle, IR) say why a record goes in one `removal_reason` and render a string.
"""

from collections.abc import Callable
from dataclasses import dataclass

from megatron_sc2.sources import (
    ir,
    issues,
    jupyter_scripts,
    jupyter_structured,
    kaggle,
    pr_render,
    prs,
    stackexchange,
)
from megatron_sc2.sources.blocks import Drop


@dataclass(frozen=True)
class Source:
    id_key: str  # the raw record's id, which also seeds its random choices
    options: type  # a frozen dataclass of the source's thresholds and probabilities, the paper's by default
    filters: Callable  # options -> checks `(record, rng)` that raise Drop(reason), in order
    render: Callable  # (record, rng, options) -> (text, fields the output keeps); raises Drop(reason)
    pseudonymize: Callable | None = None  # record -> None, names replaced in place


SOURCES = {
    "issues": Source(issues.ID_KEY, issues.IssueOptions, issues.filters, issues.render, issues.pseudonymize),
    "prs": Source(prs.ID_KEY, prs.PROptions, prs.filters, pr_render.render, prs.pseudonymize),
    "stackexchange": Source(stackexchange.ID_KEY, stackexchange.StackExchangeOptions, stackexchange.filters,
                            stackexchange.render, stackexchange.pseudonymize),
}


def _document_source(module, id_key: str = "id") -> Source:
    """A source whose module has `removal_reason(record, options)` and `render(...) -> str`."""

    def filters(options) -> list:
        def check(record: dict, rng) -> None:
            reason = module.removal_reason(record, options)
            if reason:
                raise Drop(reason)

        check.__name__ = f"{module.__name__.rsplit('.', 1)[-1]}_filter"  # names the block and seeds its rng
        return [check]

    def render(record: dict, rng, options) -> tuple[str, dict]:
        return module.render(record, rng, options), {"id": record.get(id_key)}

    return Source(id_key, module.Options, filters, render)


SOURCES |= {
    "jupyter-structured": _document_source(jupyter_structured),
    "jupyter-scripts": _document_source(jupyter_scripts),
    "kaggle": _document_source(kaggle),
    "ir": _document_source(ir),
}
