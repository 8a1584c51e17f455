"""The bot: composes `signals` and `storage` into the command line, the service and chat."""

from bot import light_imports

light_imports.install()  # before anything imports pydantic-settings (bot.config does)
