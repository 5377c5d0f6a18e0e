"""The change-log reader: the MySQL replication protocol, binlog events, transactions, seeking, GTID sets, DDL."""
