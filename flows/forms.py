"""Field types shared by the forms of every procedure."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

District = Literal["xingqing", "jinfeng", "xixia", "helan", "yongning", "lingwu"]
AgencyCode = Annotated[str, Field(pattern=r"^[a-z]+(:[a-z0-9-]+)?$", max_length=64)]
Notes = Annotated[str | None, Field(default=None, max_length=2000)]
# Money in yuan: exact in Python, a JSON number on the wire (as the agency sent it; the suites
# check numbers, and two decimals survive a float round trip).
Amount = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2),
                   PlainSerializer(float, return_type=float, when_used="json")]


class Decision(BaseModel):
    """A step's decision: sent to Prefect, so enums, codes, dates and amounts only."""

    model_config = ConfigDict(extra="forbid")


class Form(BaseModel):
    """A step's form: the decision plus what the agency records; stays in the case store."""

    model_config = ConfigDict(extra="forbid")
