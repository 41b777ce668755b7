"""The rules of the domain, pure: who may do what, working days, identity numbers, escalation
ladders, triage, screening cells, what a person may type. No database, no Prefect, no settings."""
