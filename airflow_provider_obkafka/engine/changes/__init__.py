"""The change model: one row change, a table's compiled context, and value rendering."""
