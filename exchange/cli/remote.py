"""What the commands that talk to a gateway over gRPC share: the ``--address`` /
``$GPUX_ADDRESS`` and ``--token`` / ``$GPUX_TOKEN`` options, connecting, and reporting a
refusal."""

from __future__ import annotations

from typing import Annotated, NoReturn

import grpc
import typer

from exchange.client import GpuxClient

Address = Annotated[str, typer.Option(envvar="GPUX_ADDRESS", help="Gateway host:port.")]
Token = Annotated[str, typer.Option(envvar="GPUX_TOKEN", help="Bearer token of your account.")]
DEFAULT_ADDRESS = "127.0.0.1:50051"


def fail_rpc(error: grpc.RpcError) -> NoReturn:
    """Print a refused call's status and message to stderr and exit with status 1."""
    typer.echo(f"error: {error.code().name}: {error.details()}", err=True)
    raise typer.Exit(code=1)


def connect(address: str, token: str) -> GpuxClient:
    """A client of the gateway at ``address``; exits with status 2 if no token is given."""
    if not token:
        typer.echo("error: give --token or set GPUX_TOKEN (an admin's token is in <data dir>/admin.token)", err=True)
        raise typer.Exit(code=2)
    return GpuxClient(address, token)
