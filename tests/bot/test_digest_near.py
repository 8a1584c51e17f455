"""The digest's "closest to firing" lists only rules near their threshold (issue 24)."""

from __future__ import annotations

from datetime import date


def test_the_digest_lists_only_rules_near_their_threshold() -> None:
    from types import SimpleNamespace

    from bot.delivery.digest import NEAR_WITHIN, Digest, digest_fields, nearest_rules

    def check(rule_id: str, measure: float, threshold: float) -> SimpleNamespace:
        idle = SimpleNamespace(phase="inactive")
        evaluation = SimpleNamespace(
            status="OK", rule_id=rule_id, summary=f"{rule_id} now", measure=measure,
            threshold=threshold, state=SimpleNamespace(up=idle, down=idle),
        )  # fmt: skip
        return SimpleNamespace(evaluation=evaluation)

    report = SimpleNamespace(checks=[check("near", 380, 400), check("far", 332, 400)])
    near = nearest_rules(None, None, date(2025, 3, 12), None, report=report)  # type: ignore[arg-type]
    assert [rule.rule_id for rule in near] == ["near"]  # 5 % away; 17 % is not close
    assert NEAR_WITHIN == 0.10
    fields = dict(digest_fields(Digest(date(2025, 3, 12), rows=(), spreads=(), near=())))
    assert fields["Closest to firing"] == "none within 10% of its threshold"
