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
    from aarlab.agents import cli as agents_cli
    from aarlab.campaign import cli as campaign_cli
    from aarlab.server import cli as server_cli
    from aarlab.w2s import cli as w2s_cli

    for module in (w2s_cli, server_cli, agents_cli, campaign_cli):
        module.register(app)
    from aarlab.campaign import cli_promote

    cli_promote.register(app)


_register()


def main() -> None:
    """Entry point of the ``aarlab`` console script."""
    app()
