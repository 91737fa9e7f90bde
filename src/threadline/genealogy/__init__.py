"""genealogy."""
