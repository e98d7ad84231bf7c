"""The scripted end-to-end market run (``darkpool demo``); may import every component."""

from demo.main import run
from demo.server import (
    MARKETS,
    DemoError,
    LocalServer,
    free_port,
    local_oracle,
    local_server,
    profile_markets,
    server_env,
)

__all__ = [
    "MARKETS",
    "DemoError",
    "LocalServer",
    "free_port",
    "local_oracle",
    "local_server",
    "profile_markets",
    "run",
    "server_env",
]
