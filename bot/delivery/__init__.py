"""Outbound traffic: from new events to posted alerts.

The outbox sender, the notifier facade and message, the destinations, one posting module per
platform (`discord.py`, `slack.py`, each the only delivery module importing its SDK) with its
pure alert layout beside it (`discord_alert.py`, `slack_alert.py`), the console, the digest.
Nothing here imports `bot.chat` (import-linter enforces it).
"""
