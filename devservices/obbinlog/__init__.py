"""A TEST DOUBLE of the OceanBase Binlog Service (obbinlog), not the real thing.

It speaks the MySQL replication protocol on a loopback port and serves binlog files shaped as obbinlog writes
them, re-encoded from the real writes of the project's MariaDB service (``tailer.py``). Every modelled
behaviour
cites the obbinlog source it copies (``oceanbase/oblogproxy``, ``src/binlog/``; the obbinlog 4.x code is its
v4
line, "release v4.2.0", under ``src/binlog/binlog-instance/``):

* event encodings, CRC32 on every event, FORMAT_DESCRIPTION ``5.7.38``/v4: ``ob_log_event.cpp``
  (``events.py``);
* one TABLE_MAP + one v2 rows event per row, GTID with the commit time in
  ``last_committed``/``sequence_number``,
  DDL as GTID + QUERY: ``parallel_convert.cpp`` (``tailer.py``);
* file names, PREVIOUS_GTIDS, rotation after the transaction that passes ``max_binlog_size``, index, purge:
  ``binlog_storage.cpp``, ``binlog_index.cpp`` (``store.py``);
* dumps (fake ROTATE, non-blocking = one file then EOF, heartbeats, GTID seek, error texts):
  ``binlog_dumper.cpp``
  (``dumper.py``); SQL answers: ``sql_cmd_processor.cpp``, ``sys_var.h`` (``sql.py``, ``variables.py``).

What is NOT verified against a real OceanBase cluster: what ODP routes to obbinlog and what to the OBServer
(the ``odp`` front of ``variables.py`` is an inference), OceanBase commit-time order (here strictly
increasing),
DDL text conversion (MariaDB's statement is passed through), and JSON partial updates (never produced).
"""

from __future__ import annotations

from devservices.obbinlog.service import ObbinlogService

__all__ = ["ObbinlogService"]
