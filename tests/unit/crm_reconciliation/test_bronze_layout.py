from __future__ import annotations

from pathlib import Path

import pytest

from crm_reconciliation.bronze_loader import plan_columns
from crm_reconciliation.csv_dialect import BronzeFileError, CsvFormat
from crm_reconciliation.registry import default_registry


def _format(*header: str) -> CsvFormat:
    return CsvFormat(encoding="utf-8", delimiter=",", header=header)


def test_header_order_and_unknown_columns():
    spec = default_registry().get("companies")
    layout = plan_columns(spec, _format("comp_name", "x_custom", "comp_deleted", "comp_companyid"), Path("f.csv"))
    assert (layout.id_position, layout.deleted_position, layout.width) == (4, 3, 4)
    positions = {column.name: column.position for column in layout.known}
    assert positions["comp_name"] == 1
    assert positions["comp_website"] is None
    assert (layout.extra_keys, layout.extra_positions) == (("x_custom",), (2,))


def test_aliases_map_cmli_columns():
    spec = default_registry().get("communications")
    header = ("comm_communicationid", "comm_deleted", "cmli_comm_companyid", "cmli_comm_personid")
    layout = plan_columns(spec, _format(*header), Path("f.csv"))
    positions = {column.name: column.position for column in layout.known}
    assert (positions["comp_companyid"], positions["pers_personid"]) == (3, 4)


def test_missing_required_columns_are_named_with_the_file():
    spec = default_registry().get("contacts")
    with pytest.raises(BronzeFileError) as error:
        plan_columns(spec, _format("pers_personid", "pers_firstname"), Path("/data/Bronze_Person.csv"))
    message = str(error.value)
    assert message.startswith("/data/Bronze_Person.csv, line 1: missing required column(s)")
    assert "Pers_Deleted" in message
    assert "Pers_LastName" in message
    assert "Pers_FirstName" not in message.split("the header has")[0]
