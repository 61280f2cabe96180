"""Dev script: the original's speed figures, to print next to ours.

Measures, for retail and airline (medians, milliseconds): one gold tool call
(`Environment.get_response`), environment set-up (`get_environment()` which
loads the database, as the original does per episode and per evaluation) and
the database hash (`get_db_hash()` after the gold actions). Run with the
original installed (see `python_reference.py`):

    TAU2_DATA_DIR=/tmp/tau2src/data /tmp/tau2venv/bin/python tools/bench_original.py [rounds]
"""

import json
import statistics
import sys
import time

from tau2.data_model.message import ToolCall
from tau2.domains.airline.environment import get_environment as airline_env
from tau2.domains.airline.environment import get_tasks as airline_tasks
from tau2.domains.retail.environment import get_environment as retail_env
from tau2.domains.retail.environment import get_tasks as retail_tasks


def measure(make_env, get_tasks, rounds):
    calls, setups, hashes = [], [], []
    tasks = get_tasks(None)
    for _ in range(rounds):
        for task in tasks[:10]:
            start = time.perf_counter()
            env = make_env()
            setups.append((time.perf_counter() - start) * 1e3)
            for i, action in enumerate(task.evaluation_criteria.actions or []):
                call = ToolCall(id=f"c{i}", name=action.name, arguments=action.arguments)
                start = time.perf_counter()
                env.get_response(call)
                calls.append((time.perf_counter() - start) * 1e3)
            start = time.perf_counter()
            env.get_db_hash()
            hashes.append((time.perf_counter() - start) * 1e3)
    return {
        "tool_call_ms": statistics.median(calls),
        "setup_ms": statistics.median(setups),
        "db_hash_ms": statistics.median(hashes),
        "samples": len(calls),
    }


if __name__ == "__main__":
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    out = {
        "tau2-retail": measure(retail_env, retail_tasks, rounds),
        "tau2-airline": measure(airline_env, airline_tasks, rounds),
    }
    sys.stderr.write(json.dumps(out, indent=1) + "\n")
