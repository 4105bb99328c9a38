"""Tables on both stores: the same entities and filters give the same answers, so an app's
table input behaves the same on the embedded store and on Azure Storage (Azurite)."""

from __future__ import annotations

import pytest

from funchost.storage.query.odata import FilterError
from funchost.storage.roles import StorageError

PEOPLE = [
    {"PartitionKey": "team-a", "RowKey": "1", "Name": "Ann", "Age": 31, "Active": True},
    {"PartitionKey": "team-a", "RowKey": "2", "Name": "O'Brien", "Age": 45, "Active": False},
    {"PartitionKey": "team-a", "RowKey": "3", "Name": "Cy", "Age": 22, "Active": True, "Note": "new"},
    {"PartitionKey": "team-b", "RowKey": "1", "Name": "Dee", "Age": 38, "Active": True},
]


def names(entities) -> list[str]:
    return [entity["Name"] for entity in entities]


@pytest.mark.parametrize(
    ("query_filter", "expected"),
    [
        (None, ["Ann", "O'Brien", "Cy", "Dee"]),
        ("PartitionKey eq 'team-a'", ["Ann", "O'Brien", "Cy"]),
        ("PartitionKey eq 'team-a' and Age gt 30", ["Ann", "O'Brien"]),
        ("Age lt 25 or Name eq 'Dee'", ["Cy", "Dee"]),
        ("not (Active eq true)", ["O'Brien"]),
        ("Name eq 'O''Brien'", ["O'Brien"]),
        ("Note eq 'new'", ["Cy"]),
        ("Note ne 'new'", []),  # a missing property matches no comparison
        ("(PartitionKey eq 'team-b') and (RowKey eq '1')", ["Dee"]),
        ("Age ge 38 and Age le 45", ["O'Brien", "Dee"]),
    ],
)
async def test_filters_answer_alike_on_both_stores(provider, query_filter, expected):
    await provider.upsert_entities("People", PEOPLE)
    assert names(await provider.query_entities("People", query_filter, None)) == expected


async def test_point_reads_top_upserts_and_listing(provider):
    await provider.upsert_entities("People", PEOPLE)
    ann = await provider.get_entity("People", "team-a", "1")
    assert {k: ann[k] for k in ("PartitionKey", "RowKey", "Name", "Age", "Active")} == PEOPLE[0]
    assert ann["Timestamp"] and await provider.get_entity("People", "team-a", "9") is None
    assert names(await provider.query_entities("People", "PartitionKey eq 'team-a'", 2)) == ["Ann", "O'Brien"]
    await provider.upsert_entities("People", [{"PartitionKey": "team-a", "RowKey": "1", "Name": "Ann B."}])
    replaced = await provider.get_entity("People", "team-a", "1")
    assert replaced["Name"] == "Ann B." and "Age" not in replaced  # replaced, not merged
    assert "People" in await provider.list_tables()
    assert await provider.query_entities("Nobody", None, None) == []


async def test_a_filter_that_does_not_parse_is_a_clear_error(provider):
    await provider.upsert_entities("People", PEOPLE)
    with pytest.raises((FilterError, StorageError), match="Age gt"):
        await provider.query_entities("People", "Age gt", None)
