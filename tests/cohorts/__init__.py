"""Tests for the cohorts package."""
