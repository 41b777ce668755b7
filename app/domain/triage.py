"""Hotline triage: a report's concerns → its categories → the agencies and procedures they call for.

Pure: the rules come in as data (app/config/hotline.py reads them from hotline.toml), the
report as its concerns and where the child is. No session, no Prefect, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, get_args

# What a reporter can say about a child, as the hotline operator records it.
Concern = Literal[
    "living_on_street", "begging", "runaway", "abandoned", "abuse", "neglect", "left_alone",
    "trafficking_suspected", "injured_or_ill", "out_of_school", "left_behind", "distress",
    "other",
]
CONCERNS: tuple[str, ...] = get_args(Concern)

# Local owners named by where the child is, not by a fixed code.
LOCAL = ("street:*", "community:*", "district:*")


@dataclass(frozen=True)
class CategoryRule:
    """One category: the concerns that put a report in it, whom it goes to, what it starts."""

    name: str
    title: str
    concerns: tuple[str, ...]
    route_to: tuple[str, ...]  # agency codes, or street:* / community:* / district:*
    start: tuple[str, ...] = ()  # procedure codes
    child_categories: tuple[str, ...] = ()  # the child's categories (保护对象类别) it implies


@dataclass(frozen=True)
class Triage:
    """What triage decided for one report: codes only."""

    categories: tuple[str, ...]
    agencies: tuple[str, ...]
    procedures: tuple[str, ...]
    child_categories: tuple[str, ...] = ()  # recorded on the child, as at intake ("street")


def local_agency(ref: str, *, district: str, street: str | None) -> str:
    """`street:*` → the child's street office; without a known street, its district government."""
    if ref not in LOCAL:
        return ref
    if ref == "district:*" or street is None:
        return f"district:{district}"
    return f"{ref.split(':', 1)[0]}:{street}"


def triage(concerns: Iterable[str], rules: Mapping[str, CategoryRule], fallback: str, *,
           district: str, street: str | None = None) -> Triage:
    """Every category one of whose concerns the report names (the fallback when none), in the
    order of the rules; their agencies, procedures and child categories, each once, in order of
    first mention.

    Args:
        concerns: what the report says.
        rules: the categories by name, in the settings file's order.
        fallback: the category of a report that no rule matches.
        district: the child's district (for local owners).
        street: the child's street, "xingqing-fenghuang", when the report names it.
    """
    said = set(concerns)
    matched = [r for r in rules.values() if said & set(r.concerns)] or [rules[fallback]]
    agencies = dict.fromkeys(local_agency(a, district=district, street=street)
                             for r in matched for a in r.route_to)
    procedures = dict.fromkeys(code for r in matched for code in r.start)
    child_categories = dict.fromkeys(c for r in matched for c in r.child_categories)
    return Triage(tuple(r.name for r in matched), tuple(agencies), tuple(procedures),
                  tuple(child_categories))
