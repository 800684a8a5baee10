"""Gunicorn settings for `make run`: loopback only, on SHIPCALL_PORT."""

import os

bind = f"127.0.0.1:{os.environ.get('SHIPCALL_PORT', '5000')}"
workers = int(os.environ.get("SHIPCALL_WORKERS", "2"))
accesslog = "-"
# Never log query strings: they may hold a setup token.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss'
