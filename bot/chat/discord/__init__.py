"""The Discord side of chat: slash commands and alert buttons over the gateway.

`client` (client, tree, gateway loop), `commands` (slash commands), `buttons` (Acknowledge,
Mute 1 day), `answering` (one response per interaction), `format` (reply embeds). Alert
posting lives in `bot.delivery.discord`; nothing here imports `bot.chat.slack`.
"""
