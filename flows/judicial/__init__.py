"""Judicial protection (司法保护): J2 household registration after two years."""
