"""YAML for files that people read and review (the AsyncAPI document)."""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["readable_yaml"]


class _ReadableDumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks, so that Markdown in them reads as written, and
    no anchors: a reader should not have to follow ``*id001`` to see a value."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_ReadableDumper.add_representer(str, _represent_str)


def readable_yaml(document: dict[str, Any]) -> str:
    """``document`` as block-style YAML, keys in the document's own order."""
    return yaml.dump(document, Dumper=_ReadableDumper, sort_keys=False, allow_unicode=True,
                     width=100)
