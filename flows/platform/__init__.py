"""The platform's own flows: the sweep (and, later, hotline intake, screening, indicators)."""
