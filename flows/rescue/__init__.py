"""Rescue protection (救助保护): R2 street child rescue, R3 return home and visits."""
