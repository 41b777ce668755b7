"""Medical protection (医疗保护): M1 emergency treatment, settlement afterwards."""
