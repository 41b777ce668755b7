"""Employment protection (就业保护, 四(四)): W1–W4."""
