from __future__ import annotations

from pathlib import Path

import pytest

from crm_reconciliation.config.registry import default_registry
from crm_reconciliation.load.dialect import BronzeFileError, CsvFormat
from crm_reconciliation.load.loader import plan_columns


def _format(*header: str) -> CsvFormat:
    return CsvFormat(encoding="utf-8", delimiter=",", header=header)


def test_header_order_and_unknown_columns():
    spec = default_registry().get("companies")
    layout = plan_columns(spec, _format("comp_name", "x_custom", "comp_deleted", "comp_companyid"), Path("f.csv"))
    assert layout.columns == ("comp_name", "x_custom", "comp_deleted", "comp_companyid")
    assert (layout.id_column, layout.deleted_column, layout.width) == ("comp_companyid", "comp_deleted", 4)
    assert layout.extra_columns == ("x_custom",)


@pytest.mark.parametrize("name", ["_source_line", "legacy_id", "_mine", "x" * 64])
def test_columns_the_loader_owns_or_postgres_cannot_name_are_refused(name):
    spec = default_registry().get("companies")
    with pytest.raises(BronzeFileError, match="line 1: column"):
        plan_columns(spec, _format("comp_companyid", "comp_name", "comp_deleted", name), Path("f.csv"))


def test_extra_column_names_are_quoted_for_sql():
    spec = default_registry().get("companies")
    layout = plan_columns(
        spec, _format("comp_companyid", "comp_name", "comp_deleted", 'a"; drop table x; --'), Path("f.csv")
    )
    assert layout.quoted_columns[-1] == '"a""; drop table x; --"'


def test_aliases_map_cmli_columns():
    spec = default_registry().get("communications")
    header = ("comm_communicationid", "comm_deleted", "cmli_comm_companyid", "cmli_comm_personid")
    layout = plan_columns(spec, _format(*header), Path("f.csv"))
    assert layout.columns[2:] == ("comp_companyid", "pers_personid")
    assert layout.extra_columns == ()


def test_missing_required_columns_are_named_with_the_file():
    spec = default_registry().get("deals")
    with pytest.raises(BronzeFileError) as error:
        plan_columns(spec, _format("oppo_opportunityid", "oppo_stage"), Path("/data/Bronze_Opportunity.csv"))
    message = str(error.value)
    assert message.startswith("/data/Bronze_Opportunity.csv, line 1: missing required column(s)")
    assert "Oppo_Deleted" in message
    assert "Oppo_Description" in message
    assert "Oppo_Stage" not in message.split("the header has")[0]


def test_mapped_columns_the_header_lacks_are_named_as_the_registry_spells_them():
    spec = default_registry().get("companies")
    header = [column.lower() for column in spec.bronze_columns]
    for mapped, translated in (("comp_website", "site_web"), ("comp_phonenumber", "téléphone"), ("addr_city", "ville")):
        header[header.index(mapped)] = translated
    layout = plan_columns(spec, _format(*header), Path("f.csv"))
    assert layout.missing_columns == ("Comp_WebSite", "Comp_PhoneNumber", "Addr_City")
    assert layout.extra_columns == ("site_web", "téléphone", "ville")


def test_a_column_read_through_an_alias_is_present_and_a_missing_deal_status_is_named():
    communications = default_registry().get("communications")
    header = [column.lower() for column in communications.bronze_columns]
    header[header.index("comp_companyid")] = "cmli_comm_companyid"
    assert plan_columns(communications, _format(*header), Path("f.csv")).missing_columns == ()
    deals = default_registry().get("deals")
    header = [column.lower() for column in deals.bronze_columns if column != "oppo_status"]
    assert plan_columns(deals, _format(*header), Path("f.csv")).missing_columns == ("Oppo_Status",)


def test_header_errors_name_the_header_line_after_an_excel_sep_line():
    spec = default_registry().get("companies")
    fmt = CsvFormat(encoding="utf-8", delimiter=";", header=("comp_companyid", "comp_name"), preamble=1)
    with pytest.raises(BronzeFileError, match=r"^f\.csv, line 2: missing required column\(s\) \['Comp_Deleted'\]"):
        plan_columns(spec, fmt, Path("f.csv"))
