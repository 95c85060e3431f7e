"""The README's links lead somewhere a reader of the repository (or of the installed package's source) can open."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_links_point_inside_the_repository():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = [t.split("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", readme) if "://" not in t]
    assert "docs/SPEC.md" in targets and "docs/DOMAIN.md" in targets
    for target in targets:
        path = (ROOT / target).resolve()
        assert path.is_relative_to(ROOT) and path.exists(), f"README links to {target}, which is not in the repository"
