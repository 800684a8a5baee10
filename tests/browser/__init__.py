"""Browser tests in Chromium."""
