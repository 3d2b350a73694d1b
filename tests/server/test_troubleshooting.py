"""docs/troubleshooting.md's table of common answers says what ``asyncdb serve`` really
answers: each case is triggered and its status and message must appear in the table."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

DOC = (Path(__file__).resolve().parents[2] / "docs" / "troubleshooting.md").read_text(
    encoding="utf-8"
)
TABLE = DOC[DOC.index("## Other common answers") :]

Call = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]

CASES: dict[str, Call] = {
    "bad collection name": lambda c: c.get("/v1/Agents/a-1"),
    "unsupported operator": lambda c: c.post(
        "/v1/things/_find", json={"where": {"a": {"$regex": "x"}}}
    ),
    "form body": lambda c: c.put("/v1/things/t1", data={"a": "1"}),
    "forged cursor": lambda c: c.get("/v1/things", params={"cursor": "forged"}),
    "made-up entity tag": lambda c: c.put("/v1/things/t1", json={}, headers={"If-Match": '"~!!!"'}),
    "path not UTF-8": lambda c: c.get("/v1/things/%FF"),
    "unknown route": lambda c: c.get("/v2/agents"),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_the_table_shows_what_the_server_answers(
    client: httpx.AsyncClient, case: str
) -> None:
    response = await CASES[case](client)
    error = response.json()["error"]
    assert f"| {response.status_code} `{error['message']}`" in TABLE, (case, error)


async def test_a_misspelt_body_key_is_in_the_table(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/things/_find", json={"wher": {"a": 1}})
    detail = response.json()["error"]["details"][0]
    row = f"| 422 `RequestValidationError` `{detail['msg']}` at `{detail['loc']}`"
    assert row.replace("'", '"') in TABLE
