"""Escalation ladders, from the seeded agencies (a pure rule)."""

from __future__ import annotations

import pytest

from app.domain.agencies import reference_agencies
from app.domain.ladder import AgencyNode, ladder_for

NODES = {a.code: AgencyNode(a.level, a.parent_code, a.bureau) for a in reference_agencies()}


@pytest.mark.parametrize(("owner", "bureau", "ladder"), [
    ("community:xingqing-fenghuang", None, ["community:xingqing-fenghuang",
                                            "street:xingqing-fenghuang", "district:xingqing",
                                            "mca", "office"]),
    ("street:lingwu-dongta", "edu", ["street:lingwu-dongta", "district:lingwu", "edu", "office"]),
    ("district:helan", None, ["district:helan", "mca", "office"]),
    ("psb", None, ["psb", "psb/supervisor", "office"]),
    ("hospital:first-people", None, ["hospital:first-people", "health", "office"]),
    ("welfare", None, ["welfare", "mca", "office"]),
    ("office", None, ["office"]),
])
def test_every_ladder_climbs_to_the_leading_group_office(owner, bureau, ladder) -> None:
    assert ladder_for(owner, NODES, bureau=bureau) == ladder


def test_an_unknown_owner_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown agency"):
        ladder_for("street:nowhere", NODES)
