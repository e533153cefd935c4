"""``python -m rota``: the same as the ``rota`` console script."""

from rota.cli import main

main()
