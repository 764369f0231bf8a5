"""Clean: keep the substance, drop chatter and boilerplate, redact secrets, deduplicate — every reject kept."""
