"""Where each table and change goes: table-to-topic resolution, the partition rule, the router."""
