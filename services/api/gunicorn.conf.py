"""gunicorn configuration of the API, for a source checkout.

``gunicorn -c services/api/gunicorn.conf.py folio_api.wsgi:app``.

The settings live in the package (:mod:`folio_api.gunicorn_config`) so an installed image
finds them as ``-c python:folio_api.gunicorn_config``; this file is for a source checkout.
"""

from folio_api.gunicorn_config import *  # noqa: F403
