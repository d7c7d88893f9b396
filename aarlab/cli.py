"""The ``aarlab`` command. Each package registers its own sub-commands; heavy imports happen inside commands."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="aarlab",
    help="Automated alignment research on weak-to-strong supervision.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    from aarlab.w2s import cli as w2s_cli

    w2s_cli.register(app)
    try:
        from aarlab.server import cli as server_cli
    except ImportError as err:  # pragma: no cover - only while the server package is absent
        if "aarlab.server" not in str(err):
            raise
    else:
        server_cli.register(app)


_register()


def main() -> None:
    """Entry point of the ``aarlab`` console script."""
    app()
