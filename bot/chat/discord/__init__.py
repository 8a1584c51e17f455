"""The Discord side of chat: the only package that imports `discord` for commands."""
