"""Tests of the feedback log: logging, codifying, resolving, reading; its pages and API."""
