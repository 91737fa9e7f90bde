"""Reports: documents made from query answers (recall spreadsheets, passports, PDFs).

Report modules are pure: they take what the genealogy and quality engines answer and return
text or bytes. They never open the store themselves and never import the web layer, so the
CLI, the API and the pages produce the same files.
"""

from threadline.reports.recall import (
    Column,
    Table,
    customer_table,
    customers_csv,
    customers_xlsx,
    scope_csv,
    scope_tables,
    scope_xlsx,
    table_csv,
    tables_xlsx,
)

__all__ = [
    "Column",
    "Table",
    "customer_table",
    "customers_csv",
    "customers_xlsx",
    "scope_csv",
    "scope_tables",
    "scope_xlsx",
    "table_csv",
    "tables_xlsx",
]
