"""
The change-log reader: the MySQL replication protocol, binlog events, transactions, seeking, GTID sets, DDL.

OceanBase Binlog Service quirks handled (reference notes §1.7, §1.9, §1.13; obbinlog source `oceanbase/oblogproxy`):

* Checksum: set explicitly on the session (`engine/binlog/wire.py`). Whether events carry a CRC32 is read
  from each file's FORMAT_DESCRIPTION (obbinlog sends its default whatever the session asked), and each
  checksum is verified: a mismatch stops the read before anything is produced.
* Heartbeats (types 27 and 41) are counted, never turned into changes, and never move the resume position:
  positions only move at a commit or a standalone statement. A reader asked for `markers` reports a
  heartbeat with no transaction open as a `Resume(idle=True)`: it has caught up.
* A non-blocking dump (`COM_BINLOG_DUMP` flags exactly 1) gets one file, then EOF (`BinlogDumper::run`);
  any other flags block and stream across files. The reader goes on from the next file's start when a dump
  ends right after a ROTATE; a long-lived (blocking) reader takes a ROTATE at a transaction boundary as a
  resume point (`Resume(idle=False)`). A range is read over one blocking dump that ends at `stop_at`.
* Query events that are not BEGIN/COMMIT/table DDL (`SET GLOBAL ...`, unparsable text) are skipped, not DDL.
* `PARTIAL_UPDATE_ROWS_EVENT` (39, JSON diffs) on an in-scope table raises `UnsupportedEventError`: its after
  image lacks the unchanged JSON documents. So do MariaDB's compressed rows events and MySQL's compressed
  transaction payloads, which this reader cannot open.
* No `SELECT ... AS server_id` queries: the `server_id` (from the caller, stable) goes in the dump packet.
* Tables outside the scope are skipped by their TABLE_MAP's names: their rows are never decoded.
* A rows event whose column count differs from its TABLE_MAP raises SchemaError.
"""
