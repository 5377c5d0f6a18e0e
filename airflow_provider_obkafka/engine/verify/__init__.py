"""
Verification: proving a topic equals its source table (`verify`).

`messages` reads messages back into row images (Default, DefaultExtendColumnType, Debezium), `keys` gives each
row its identity, digest, hash bucket and key range, `full` compares a full synchronization chunk by chunk at
its snapshot, `state` compares the final state per key after incremental synchronization, `report` holds what
was found. No Airflow import: the I/O comes in through the protocols of `full` and `state`.
"""
