"""What the docs say is what the code does."""

from __future__ import annotations

from pathlib import Path

from adapter.settings_table import BEGIN, END, configuration_markdown

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_configuration_tables_are_the_settings_models() -> None:
    text = README.read_text()
    block = text[text.index(BEGIN) + len(BEGIN):text.index(END)].strip()

    assert block == configuration_markdown(), (
        "README.md's configuration drifted from the settings models: paste the output of "
        "`pos-adapter settings --markdown` between the settings markers"
    )
