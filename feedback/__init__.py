"""What beta customers said, codified (its features arrive with a later issue)."""
