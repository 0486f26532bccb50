"""The words CrossCodeEval does not count as identifiers, by language: amazon-science/cceval 25f9cab7
scripts/keywords/{java,typescript,csharp}.txt (from microsoft/dpu-utils; C#'s `using static` entry is two
words here, both of which it lists alone too) and, for Python, the running interpreter's keyword.kwlist less
True and False, as its keywordlist.py computes them."""

import keyword

LISTS = {
    "java": """
        abstract assert boolean break byte case catch char class continue default do double else enum
        extends final finally float for if implements import instanceof int interface long native new
        package private protected public return short static strictfp super switch synchronized this throw
        throws transient try void volatile while var const goto""",
    "typescript": """
        break case catch class const continue debugger default delete do else export extends finally for
        function if import in instanceof new return super switch this throw try typeof var void while with
        yield enum implements interface let package private protected public static""",
    "csharp": """
        abstract as base bool break byte case catch char checked class const continue decimal default
        delegate do double else enum event explicit extern finally fixed float for foreach goto if implicit
        in int interface internal is lock long namespace new null object operator out override params
        private protected public readonly ref return sbyte sealed short sizeof stackalloc static string
        struct switch this throw try typeof uint ulong unchecked unsafe ushort using virtual
        void volatile while""",
}
KEYWORDS = {"python": frozenset(keyword.kwlist) - {"True", "False"},
            **{language: frozenset(words.split()) for language, words in LISTS.items()}}
