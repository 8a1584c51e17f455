"""The Slack side of chat: the only package that imports `slack_sdk`/`slack_bolt` for commands."""
