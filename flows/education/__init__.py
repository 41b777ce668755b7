"""Education protection (教育保护): E1–E6, schooling, dropouts, aid, enrolment, proxy mothers."""
