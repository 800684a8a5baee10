"""Gunicorn settings for `make run`: loopback only, on SHIPCALL_PORT."""

import gc
import os

bind = f"127.0.0.1:{os.environ.get('SHIPCALL_PORT', '5000')}"
workers = int(os.environ.get("SHIPCALL_WORKERS", "2"))
accesslog = "-"
# Never log query strings: they may hold a setup token.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss'


def post_worker_init(worker):
    """Keep the garbage collector off what the loaded app holds for the worker's whole life.

    A batch of events allocates enough to run the collector many times; without this, each of
    its full passes walks every object the imports made (about 5 % of a batch's CPU).
    """
    gc.freeze()
