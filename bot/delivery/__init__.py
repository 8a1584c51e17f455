"""Outbound traffic: from new events to posted alerts.

The outbox sender, the notifier facade and message, destinations per platform, the console,
the digest. Nothing here imports `bot.chat`.
"""
