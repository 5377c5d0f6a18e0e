"""Run one incremental range in its own process (the crash test kills it): `python incremental_worker.py ARGS.json`."""

from __future__ import annotations

import json
import sys

from airflow_provider_obkafka.operators.incremental_sync import IncrementalSyncOperator

if __name__ == "__main__":
    args = json.loads(open(sys.argv[1]).read())
    operator = IncrementalSyncOperator(task_id="incremental_sync", project=args["project"])
    print(json.dumps(operator.execute_complete({}, args["event"])), flush=True)
