"""Shipcall's test suite."""
