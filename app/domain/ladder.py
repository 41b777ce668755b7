"""Escalation ladders: who is next when a step's owner misses its deadline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

TOP = "office"


class AgencyNode(NamedTuple):
    """The part of an agency that the ladder needs."""

    level: str
    parent_code: str | None
    bureau: str | None


def ladder_for(
    owner: str, agencies: Mapping[str, AgencyNode], bureau: str | None = None
) -> list[str]:
    """The rungs from `owner` up to the leading group office.

    Local owners climb community → street office → district government → the responsible
    municipal bureau (`bureau`, else the agency's own) → office. A municipal bureau escalates
    to its own supervisor role ("psb/supervisor"), then to the office.
    """
    if owner == TOP:
        return [TOP]
    if owner not in agencies:
        raise ValueError(f"unknown agency {owner!r}")
    node = agencies[owner]
    if node.level == "municipal":
        return [owner, f"{owner}/supervisor", TOP]
    rungs = [owner]
    code = owner
    while agencies[code].parent_code:
        code = agencies[code].parent_code  # type: ignore[assignment]
        rungs.append(code)
        if agencies[code].level == "municipal":
            return [*rungs, TOP]
    responsible = bureau or node.bureau or "mca"
    return [*rungs, responsible, TOP]
