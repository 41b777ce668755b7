"""Great Expectations suites for submitted form records, and the runner that applies them."""
