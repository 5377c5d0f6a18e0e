"""DDL messages against the documented OMS 4.1.1+ examples (reference §4–§8): the same fields, the same values."""

from __future__ import annotations

import json

import pytest

from airflow_provider_obkafka.engine.serializers.ddl import DdlEvent, ddl_value

STATEMENT = "alter table connector_test.all_mysql_type_test add column c90 varchar(30) default \"test\" comment 'test'"
EVENT = DdlEvent("connector_test", "all_mysql_type_test", "ALTER", STATEMENT, 1671177209_000_000, "OB_MYSQL",
                 "mysql-bin.000001@4")  # fmt: skip
NOW = 1671177291.475

DOCUMENTED = {  # the reference's examples, with the times of EVENT and NOW
    "Default": {
        "prevStruct": None, "postStruct": {"ddl": STATEMENT},
        "allMetaData": {"checkpoint": "1671177209", "dbType": "OB_MYSQL", "storeDataSequence": None,
                        "db": "connector_test", "timestamp": "1671177209", "uniqueId": None, "ddlType": "ALTER_TABLE",
                        "record_primary_key": None, "source_identity": None, "record_primary_value": None,
                        "table_name": "all_mysql_type_test"},
        "recordType": "DDL",
    },
    "Canal": {"database": "connector_test", "sqlType": None, "data": None, "pkNames": None, "old": None,
              "mysqlType": None, "type": "ALTER", "table": "all_mysql_type_test", "es": 1671177209000, "isDdl": True,
              "ts": 1671177291475, "sql": STATEMENT},
    "DataWorks": {
        "version": "2.0",
        "schema": {"source": {"dbType": "ob_mysql", "dbVersion": None, "dbName": "connector_test", "schema": None,
                              "table": "all_mysql_type_test"}, "column": None, "pk": None},
        "payload": {"before": None, "after": None, "op": "ALTER",
                    "timestamp": {"eventTime": 1671177209000, "systemTime": 1671177291475,
                                  "checkpointTime": 1671177209},
                    "ddl": {"text": STATEMENT}, "scn": "null"},
        "extend": {},
    },
    "SharePlex": {
        "data": {},
        "meta": {"posttime": "2022-12-16T07:54:51", "op": "ddl", "size": 0, "time": "2022-12-16T07:53:29",
                 "idx": "0/0", "seq": 0, "table": "connector_test.all_mysql_type_test",
                 "rowid": "connector_test.all_mysql_type_test-", "trans": None, "scn": "null"},
        "sql": {"ddl": STATEMENT},
    },
}  # fmt: skip


@pytest.mark.parametrize("method", sorted(DOCUMENTED))
def test_ddl_message_is_the_documented_one(method):
    assert json.loads(ddl_value(method, EVENT, NOW)) == DOCUMENTED[method]


def test_extend_column_type_adds_the_light_type_and_debezium_names_the_statement():
    extend = json.loads(ddl_value("DefaultExtendColumnType", EVENT, NOW))
    assert extend["postStruct"] == {"ddl": STATEMENT, "__light_type": {"ddl": {"schemaType": "VAR_STRING"}}}
    debezium = json.loads(ddl_value("Debezium", EVENT, NOW))["payload"]
    assert debezium["ddl"] == STATEMENT and debezium["databaseName"] == "connector_test"
    assert debezium["source"]["table"] == "all_mysql_type_test" and debezium["source"]["pos"] == "mysql-bin.000001@4"
