"""Tests of usage events: the API and CLI that take them in, the checks, the per-day rollup."""
