"""What the notebook and IR sources share: the datatrove filter that drops a raw record for a named reason, and the
reading of a notebook's JSON with nbformat."""


import nbformat


class Unreadable(ValueError):
    """The record's content is not a notebook."""


def read_notebook(content: str) -> nbformat.NotebookNode:
    """The notebook in nbformat 4 (older versions upgraded), cell sources and outputs joined into strings; no
    schema validation, which would cost more than the rendering and only log."""
    try:
        notebook = nbformat.reader.reads(content)
        return nbformat.convert(notebook, 4)
    except (ValueError, KeyError, TypeError, AttributeError, nbformat.ValidationError) as error:
        raise Unreadable(str(error)) from error


def is_python(notebook: nbformat.NotebookNode) -> bool:
    """The notebook's kernel or language is Python (its metadata says so)."""
    metadata = notebook.get("metadata", {})
    names = (
        metadata.get("language_info", {}).get("name"),
        metadata.get("kernelspec", {}).get("language"),
        metadata.get("kernelspec", {}).get("name"),
    )
    return any("python" in str(name).lower() for name in names if name)
