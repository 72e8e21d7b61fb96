"""``python -m exchange.cli``: the ``gpux`` command line."""

from exchange.cli.main import app

app()
