"""Who is in a beta, and why."""
