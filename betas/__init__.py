"""Shipcall's core: configuration, database, people, betas and their lifecycle, and the app."""
