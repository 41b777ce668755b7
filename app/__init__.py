"""Service layer of the child-protection system: settings, rules, services, notifications, CLI."""
