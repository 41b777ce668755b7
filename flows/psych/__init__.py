"""Psychological protection (精神保护, 四(六)): P1 counselling, P2 regular visits."""
