"""Pure rules: no Prefect, no database session, no Great Expectations."""
