"""Platform limits: text trimmed visibly or split, embeds and blocks always within bounds."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.delivery.limits import (
    DISCORD_EMBED_TOTAL,
    ELLIPSIS,
    embed_length,
    fit_discord_content,
    fit_discord_embed,
    fit_discord_embeds,
    fit_slack_blocks,
    slack_field_sections,
    slack_header,
    slack_text_sections,
    split_text,
    trim,
)


def test_trim_marks_the_cut():
    assert trim("short", 10) == "short"
    assert trim("abcdefghij", 5) == "abcd…"
    assert len(trim("x" * 5000, 4096)) == 4096


@given(st.text(), st.integers(min_value=1, max_value=300))
def test_trim_never_exceeds_the_limit(text, limit):
    result = trim(text, limit)
    assert len(result) <= limit
    assert result == text or result.endswith(ELLIPSIS)


@given(st.text(min_size=1), st.integers(min_value=1, max_value=200))
def test_split_keeps_every_non_space_character(text, limit):
    chunks = split_text(text, limit)
    assert all(len(chunk) <= limit for chunk in chunks)
    assert "".join("".join(chunks).split()) == "".join(text.split())


def test_split_prefers_line_breaks():
    text = "a" * 2900 + "\n" + "b" * 200
    assert split_text(text, 3000) == ["a" * 2900, "b" * 200]


def test_embed_fields_names_values_footer_author_trimmed():
    embed = {
        "title": "t" * 300,
        "description": "d" * 5000,
        "footer": {"text": "f" * 3000},
        "author": {"name": "a" * 300},
        "fields": [{"name": "n" * 300, "value": "v" * 2000}] * 30,
    }
    fitted = fit_discord_embed(embed)
    assert len(fitted["title"]) == 256 and fitted["title"].endswith(ELLIPSIS)
    assert len(fitted["footer"]["text"]) <= 2048
    assert len(fitted["author"]["name"]) <= 256
    assert len(fitted["fields"]) <= 25
    assert all(len(f["name"]) <= 256 and len(f["value"]) <= 1024 for f in fitted["fields"])
    assert embed_length(fitted) <= DISCORD_EMBED_TOTAL
    assert embed["title"] == "t" * 300  # the input is not modified


def test_description_gives_way_to_keep_the_total_under_6000():
    embed = {
        "title": "t",
        "description": "d" * 4096,
        "fields": [{"name": "n", "value": "v" * 1000}] * 3,
    }
    fitted = fit_discord_embed(embed)
    assert embed_length(fitted) <= DISCORD_EMBED_TOTAL
    assert len(fitted["fields"]) == 3 and fitted["description"].endswith(ELLIPSIS)
    alone = fit_discord_embed({"title": "t", "description": "d" * 5000})
    assert len(alone["description"]) == 4096 and alone["description"].endswith(ELLIPSIS)


def test_at_most_ten_embeds_within_6000_together():
    embeds = [{"title": "t", "description": "d" * 1500} for _ in range(12)]
    fitted = fit_discord_embeds(embeds)
    assert len(fitted) <= 10
    assert sum(embed_length(e) for e in fitted) <= DISCORD_EMBED_TOTAL


def test_content_within_2000():
    assert len(fit_discord_content("<@1> " * 600)) == 2000


def test_slack_sections_fields_and_header():
    assert [len(s["text"]["text"]) for s in slack_text_sections("x" * 7000)] == [3000, 3000, 1000]
    assert slack_text_sections("") == []
    sections = slack_field_sections(["f" * 2500] * 23)
    assert [len(s["fields"]) for s in sections] == [10, 10, 3]
    assert all(len(f["text"]) <= 2000 for s in sections for f in s["fields"])
    assert len(slack_header("h" * 200)["text"]["text"]) == 150


def test_slack_block_count_capped_keeping_the_last_block():
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": str(i)}} for i in range(60)]
    fitted = fit_slack_blocks(blocks)
    assert len(fitted) == 50
    assert fitted[-1] == blocks[-1]
    assert "shortened" in fitted[-2]["text"]["text"]
