"""The public port alone, in a process of its own with a small open-file limit (issue 21).

Serves what `rotation-bot run` serves on one port in HTTP mode: Discord's interactions
endpoint (`InteractionsEndpoint`, answering Discord's signed PING) and `/healthz` +
`/metrics` (`MetricsServer` over the real health model of a fresh database), with the door
limits read from the environment (`ROTATION_HTTP_*`) as the service reads them. Prints the
bound port on stdout, then serves until SIGTERM. Logs go to stderr as the service's do.

    python -m tests.fakes.port_server --db /tmp/x.db --public-key <hex> --nofile 1024
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot.chat.discord.http_mode import INTERACTIONS_PATH, InteractionsEndpoint
from bot.config import load_settings
from bot.logging_setup import configure_logging
from bot.service.health import read_health
from bot.service.metrics import Metrics, MetricsServer
from bot.service.web import mount, set_limits
from bot.service.web_door import DoorLimits
from storage.db import open_db


async def serve(db: Path, public_key: str) -> None:
    """Mount both on one port of 127.0.0.1 and serve until SIGTERM."""
    settings = load_settings(None)
    set_limits(DoorLimits.from_settings(settings))
    open_db(db).close()  # migrated once, as the service does at start

    async def health():  # type: ignore[no-untyped-def]
        return await asyncio.to_thread(read_health, db, datetime.now(UTC), settings)

    metrics = MetricsServer(Metrics(), health, "127.0.0.1", 0)
    await metrics.start()
    # A PING never reaches the client: it is answered by the endpoint itself.
    endpoint = InteractionsEndpoint(None, public_key)  # type: ignore[arg-type]
    await mount("127.0.0.1", metrics.port, {("POST", INTERACTIONS_PATH): endpoint.handle})
    print(metrics.port, flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()


def main(argv: list[str]) -> int:
    """Lower the open-file limit, then serve."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--public-key", required=True)
    parser.add_argument("--nofile", type=int, default=1024)
    args = parser.parse_args(argv)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (args.nofile, hard))
    configure_logging(load_settings(None))
    asyncio.run(serve(args.db, args.public_key))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
