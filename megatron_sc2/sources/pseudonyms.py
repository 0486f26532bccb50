"""Per-conversation pseudonyms (StarCoder2 paper §5.2-5.5): each participant becomes `username_0`, `username_1`,
... in order of first appearance, in the author fields and wherever the name occurs in the text (so @mentions too).
"""

import re


def pseudonyms(names) -> dict[str, str]:
    """Name -> `username_<i>` by first appearance; empty and missing names have none."""
    mapping: dict[str, str] = {}
    for name in names:
        if name and name not in mapping:
            mapping[name] = f"username_{len(mapping)}"
    return mapping


def replace_names(text: str | None, mapping: dict[str, str]) -> str | None:
    """`text` with every occurrence of a participant's name replaced by its pseudonym, in one pass, longest name
    first, so that a name inside another (`bob`, `bobby`) or inside a pseudonym already written is left alone."""
    if not text or not mapping:
        return text
    pattern = re.compile("|".join(re.escape(name) for name in sorted(mapping, key=len, reverse=True)))
    return pattern.sub(lambda match: mapping[match.group(0)], text)
