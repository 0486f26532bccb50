"""StarCoder2's conversation sources (paper §5.2-5.5) as datatrove blocks: raw records -> the source's filters ->
pseudonyms -> its renderer -> StarCoder2 text with the source's special tokens. See docs/sources.md.

A source is one module (its raw format, filters, pseudonyms and renderer) and one line of `SOURCES`.
"""

from collections.abc import Callable
from dataclasses import dataclass

from megatron_sc2.sources import issues, pr_render, prs, stackexchange


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
