"""Tests for the cohorts.finder package."""
