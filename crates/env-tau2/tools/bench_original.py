"""Dev script: the original's speed figures, to print next to ours.

Measures, for retail and airline (medians, milliseconds), over the same
tasks and gold actions as `lifeharness_env_tau2::bench::measure`: one gold
tool call (`Environment.get_response`), environment set-up
(`get_environment()`, which loads the database, as the original does per
episode and per evaluation) and the database hash (`get_db_hash()` after the
gold actions). The original's loguru logger (a DEBUG line per tool call to
stderr) is removed unless `--log` is given, so the tool-call figure is the
tool's own work. Prints one JSON line on stdout.

Run with the original installed (see `python_reference.py`); the
`tau2_bench` example runs it when `TAU2_PYTHON` is set:

    /tmp/tau2venv/bin/python tools/bench_original.py [--rounds N] [--tasks N] [--log]

(`TAU2_DATA_DIR=/tmp/tau2src/data` if the install does not find its data.)
"""

import argparse
import json
import statistics
import time

from loguru import logger
from tau2.data_model.message import ToolCall
from tau2.domains.airline.environment import get_environment as airline_env
from tau2.domains.airline.environment import get_tasks as airline_tasks
from tau2.domains.retail.environment import get_environment as retail_env
from tau2.domains.retail.environment import get_tasks as retail_tasks


def measure(make_env, get_tasks, rounds, limit):
    calls, setups, hashes = [], [], []
    tasks = get_tasks(None)
    if limit:
        tasks = tasks[:limit]
    for _ in range(rounds):
        for task in tasks:
            start = time.perf_counter()
            env = make_env()
            setups.append((time.perf_counter() - start) * 1e3)
            criteria = task.evaluation_criteria
            for i, action in enumerate((criteria.actions if criteria else None) or []):
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
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--tasks", type=int, default=0, help="first N tasks (0: all)")
    parser.add_argument("--log", action="store_true", help="keep the original's logging")
    options = parser.parse_args()
    if not options.log:
        logger.remove()
    out = {
        "tau2-retail": measure(retail_env, retail_tasks, options.rounds, options.tasks),
        "tau2-airline": measure(airline_env, airline_tasks, options.rounds, options.tasks),
    }
    print(json.dumps(out))
