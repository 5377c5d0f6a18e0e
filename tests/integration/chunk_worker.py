"""Run one full-sync chunk in its own process (the crash test kills it): `python chunk_worker.py ARGS.json`.

ARGS.json holds `project` and `work` (a FullSyncPlanOperator work item); the Airflow connections come from
the environment, as a worker would have them.
"""

from __future__ import annotations

import json
import logging
import sys

from airflow_provider_obkafka.operators.full_sync import FullSyncOperator

if __name__ == "__main__":
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(name)s %(message)s")
    args = json.loads(open(sys.argv[1]).read())
    operator = FullSyncOperator(task_id="full_sync", project=args["project"], work=args["work"], progress_every=0.05)
    print(json.dumps(operator.execute({})), flush=True)
