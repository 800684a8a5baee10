"""Tests for the betas package."""
