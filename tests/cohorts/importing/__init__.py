"""Tests for the cohorts.importing package."""
