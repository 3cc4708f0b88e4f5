"""docs/privacy.md's noise table is what the release plan and OpenDP give at the default budget.

Each row: a released measure, its period, its ρ, the noise standard deviation OpenDP calibrates
for it, and the 95 % error of the figure an analyst reads per installation (a share, or uses,
sessions, hours per installation) when 100, 1,000 or 10,000 installations are active.
"""

from __future__ import annotations

from pathlib import Path

from optin.analysis._noise import Z95, calibrate, epsilon, l2_bound
from optin.analysis._release_plan import DEFAULT_BUDGET_RHO, LOSS_BOUND, PARTS, SPECS, Spec, release_rho
from optin.contract import Kind, bundled_registry

DOC = Path(__file__).resolve().parents[2] / "docs" / "privacy.md"
ACTIVE = (100, 1000, 10000)


def sensitivity(spec: Spec, measure: str) -> int:
    """The L2 bound the job calibrates for (as `_release_sql.Bounding` states it), for the demo registry."""
    registry = bundled_registry("millwright")
    features = [m for m in registry.metrics.values() if m.kind is Kind.COUNTER and m.category == "usage"]
    top = min(registry.max_features, len(features))
    cells = {"features": top, "breakdown": top, "sessions": 6, "losses": 3}.get(spec.source, 1)
    if measure == "installations":
        return l2_bound(1, cells)
    bound = {
        "features": max(m.release_bound for m in features),
        "breakdown": max(m.release_bound for m in features),
        "usage": registry.metrics["session.usage_seconds"].release_bound,
        "sessions": registry.metrics["session.length"].release_bound,
        "losses": LOSS_BOUND,
    }[spec.source]
    return l2_bound(bound, cells)


def rows() -> list[list[str]]:
    out = []
    for kind in ("day", "week", "month"):
        for spec in SPECS:
            if kind not in spec.kinds:
                continue
            for measure, share in PARTS[spec.source]:
                rho = release_rho(spec, kind, DEFAULT_BUDGET_RHO) * share
                sd = calibrate(sensitivity(spec, measure), rho)
                scale, unit = (3600.0, " h") if measure == "seconds" else (1.0, "")
                per = [Z95 * sd / scale / n for n in ACTIVE]
                shown = (
                    [f"±{p * 100:.1f} %" for p in per]
                    if measure == "installations"
                    else [f"±{p:.2g}{unit}" for p in per]
                )
                what = "share" if measure == "installations" else f"{'hours' if unit else measure} per installation"
                out.append([f"`{spec.name}` {measure}", kind, f"{rho:.4f}", f"{sd / scale:,.1f}{unit}", what, *shown])
    return out


def test_the_noise_table_in_docs_privacy_md_is_what_the_plan_gives() -> None:
    text = DOC.read_text(encoding="utf-8")
    table = [line for line in text.splitlines() if line.startswith("| `")]
    assert table == ["| " + " | ".join(r) + " |" for r in rows()]


def test_the_stated_default_budget_and_its_epsilon_are_the_code_s() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert f"ρ = {DEFAULT_BUDGET_RHO}" in text
    assert f"ε = {epsilon(DEFAULT_BUDGET_RHO):.2f}" in text


def test_the_budget_split_and_retention_s_look_back_in_docs_privacy_md_are_the_plan_s() -> None:
    """The shares, the look-back and retention's ρ as stated; what they mean is tried in test_retention.py."""
    from optin.analysis._release_plan import (
        PERIOD_SHARE,
        RETENTION_COHORTS,
        RETENTION_GUARD_WEEKS,
        RETENTION_READ_WEEKS,
        RETENTION_SHARE,
        SPEC_BY_NAME,
    )

    text = " ".join(DOC.read_text(encoding="utf-8").split())
    week, month = round(100 * PERIOD_SHARE["week"]), round(100 * PERIOD_SHARE["month"])
    reserved, days = round(100 * RETENTION_SHARE), round(100 * PERIOD_SHARE["day"] * 7)
    assert f"the week {week} %, each month {month} %, and reserves {reserved} % for retention" in text
    assert f"{days} + {week} + 2 × {month} + {reserved} = 100 %" in text and days + week + 2 * month + reserved == 100
    assert f"**{RETENTION_COHORTS} cohorts**" in text and f"**{RETENTION_GUARD_WEEKS} weeks**" in text
    assert f"**{RETENTION_READ_WEEKS} weeks** P − {RETENTION_READ_WEEKS - 1} … P" in text
    rho = release_rho(SPEC_BY_NAME["retention"], "week", DEFAULT_BUDGET_RHO)
    assert f"ρ = {DEFAULT_BUDGET_RHO} × {reserved} % / {RETENTION_READ_WEEKS} = {rho:.4f} each" in text
