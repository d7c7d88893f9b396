"""Dashboard routes (HTML and JSON, most outside the OpenAPI schema) refuse integers no database stores with a 4xx."""

from __future__ import annotations

import httpx
import pytest

from aarlab.server._params import MAX_DB_INT
from tests.dashboard.seed import SeededCampaign

HUGE = str(2**64 + 7)
PAST = str(MAX_DB_INT + 1)  # fine for SQLite, "integer out of range" for PostgreSQL


@pytest.mark.parametrize("path", [f"/forum/{HUGE}", f"/forum/-{HUGE}", f"/forum/{PAST}",
                                  f"/dashboard/api/agents/alice/transcript?after={HUGE}",
                                  "/dashboard/api/agents/alice/transcript?after=-1"])
def test_an_out_of_range_integer_is_a_4xx_with_a_message(seeded: SeededCampaign, path: str) -> None:
    r = httpx.get(seeded.url + path, headers={"Authorization": f"Bearer {seeded.admin_token}"})
    assert 400 <= r.status_code < 500, (path, r.status_code, r.text[:200])
    assert "less than or equal" in r.text or "greater than or equal" in r.text


def test_the_largest_storable_post_id_is_a_plain_not_found(seeded: SeededCampaign) -> None:
    r = httpx.get(seeded.url + f"/forum/{MAX_DB_INT}", headers={"Authorization": f"Bearer {seeded.admin_token}"})
    assert r.status_code == 404


@pytest.mark.parametrize("form", [{"evaluations": HUGE}, {"evaluations": "9" * 5000}, {"usd": "1e400"},
                                  {"evaluations": "-1"}])
def test_a_budget_form_out_of_range_is_refused_with_a_message(seeded: SeededCampaign, form: dict[str, str]) -> None:
    r = httpx.post(seeded.url + "/oversight/agents/alice/budget", data=form,
                   headers={"Authorization": f"Bearer {seeded.admin_token}"})
    assert r.status_code == 422 and "invalid" in r.text, (r.status_code, r.text[:300])
