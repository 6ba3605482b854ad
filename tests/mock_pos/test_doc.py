"""docs/mock-pos.md documents every route of the mock POS and every fault."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.routing import Route

from pos_drivers.mock import create_app
from pos_drivers.mock._server import Faults

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "mock-pos.md"


def _camel(match: re.Match[str]) -> str:
    head, *rest = match.group(1).split("_")
    return "{" + head + "".join(part.title() for part in rest) + "}"


def documented_form(route: Route) -> list[str]:
    """``METHOD /path`` as the doc writes it (path parameters in camelCase)."""
    path = re.sub(r"\{([a-z_]+)\}", _camel, route.path)
    return [f"{method} {path}" for method in sorted(route.methods or ()) if method != "HEAD"]


def test_every_route_is_documented_with_its_method() -> None:
    text = DOC.read_text()
    routes = [r for r in create_app().routes if isinstance(r, Route) and ":path}" not in r.path]
    calls = [call for route in routes for call in documented_form(route)]

    assert {"PUT /_control/faults", "GET /events"} <= set(calls)
    missing = [call for call in calls if not re.search(rf"`{re.escape(call)}[`?]", text)]
    assert missing == []


def test_every_fault_is_documented() -> None:
    text = DOC.read_text()

    for name in Faults().to_json():
        assert f"| `{name}` |" in text


def test_the_readme_points_at_it() -> None:
    assert "(docs/mock-pos.md)" in (ROOT / "README.md").read_text()
