"""A suspended flow run is logged as what it is, normal operation: at INFO, not ERROR.

Every human step ends its flow run's execution in Suspended (DESIGN.md, invariant 4). Prefect
3.9's async flow engine logs the final state of every execution at ERROR unless it is
Completed (`AsyncFlowRunEngine.start`: "Finished in state Suspended(type=PAUSED)"), so each
human step printed an ERROR in the console and on the run's page in the Prefect UI, where a
manager reads it as a failure. Prefect has no setting for that level.

`SuspensionAtInfo` is a filter on Prefect's flow-run logger ("prefect.flow_runs"). A logger's
filters run before any of its handlers and before the record propagates, so the record that
the console handler prints and the one that Prefect's API log handler sends to the run page
are the same, lowered, record. It lowers exactly that one message, for a Suspended or Paused
final state; "Finished in state Failed(…)", "Crashed(…)" and every other ERROR stay ERROR.

`install()` puts it on the logger once per process. flows/steps.py calls it at import: every
process that executes a procedure imports that module first (`protect serve`'s in-process
executor, Prefect's runner and workers through `python -m prefect.engine`), and Prefect's
later `setup_logging` (a `dictConfig`) replaces a logger's handlers, never its filters.
The same class can be named in a custom Prefect logging.yml (PREFECT_LOGGING_SETTINGS_PATH):
`filters: {suspension: {"()": app.adapters.prefect_logging.SuspensionAtInfo}}` and
`filters: [suspension]` under `loggers: prefect.flow_runs`.
"""

from __future__ import annotations

import logging
import re

FLOW_RUN_LOGGER = "prefect.flow_runs"
# str(state) of a suspension: `Suspended(type=PAUSED)`, `Suspended('message', type=PAUSED)`;
# its repr (PREFECT_DEBUG_MODE) also begins with the state's name and a parenthesis.
_WAITING = re.compile(r"Finished in state (Suspended|Paused)\(")


class SuspensionAtInfo(logging.Filter):
    """Lowers "Finished in state Suspended(…)" / "Paused(…)" from ERROR to INFO; passes every
    other record as it is."""

    def filter(self, record: logging.LogRecord) -> bool:
        if (record.levelno > logging.INFO and isinstance(record.msg, str)
                and _WAITING.match(record.msg)):
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
            # Now an INFO record: dropped where INFO is not wanted (PREFECT_LOGGING_LEVEL),
            # as Prefect itself would have dropped it at INFO.
            return logging.getLogger(record.name).isEnabledFor(logging.INFO)
        return True


def install() -> None:
    """Put `SuspensionAtInfo` on Prefect's flow-run logger, unless it is there already."""
    logger = logging.getLogger(FLOW_RUN_LOGGER)
    if not any(isinstance(f, SuspensionAtInfo) for f in logger.filters):
        logger.addFilter(SuspensionAtInfo())
