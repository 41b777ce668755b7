"""What the operator sets: the PROTECT_* settings and the rules files (procedures, risk, hotline,
calendar), each checked at start-up, and the words a person reads for every code."""

from app.config import calendar as _calendar  # noqa: E402,F401  installs the operator's calendar
