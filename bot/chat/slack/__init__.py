"""The Slack side of chat: slash commands and alert buttons (slack_bolt).

`app` (bolt app, listeners, Socket Mode / HTTP), `answers` (blocking answers, no SDK),
`format` (reply Block Kit), `http_guard` (signature and replay checks). Alert posting lives in
`bot.delivery.slack`; nothing here imports `bot.chat.discord`.
"""
