"""What the browser tests share: Playwright's assertions and the session cookie's name."""

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips every browser test, saying why
    expect = None

SESSION_COOKIE = "shipcall_session"
