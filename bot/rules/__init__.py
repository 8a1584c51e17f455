"""Rules files: the shipped defaults plus the user's `ROTATION_RULES`, read with line numbers."""
