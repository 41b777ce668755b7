"""The world outside the rules: the case store, the audit trail, the outbox, Prefect, webhooks and
group robots, and the data-quality gate (Great Expectations)."""
