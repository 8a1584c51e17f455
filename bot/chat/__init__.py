"""Inbound traffic: chat commands and buttons.

One command core (`core.py`) returns plain data; the Discord and Slack packages only format it.
"""
