"""``python -m aarlab`` runs the CLI."""

from aarlab.cli import main

main()
