"""Dev script: dump reference results from the original Python tau2-bench.

Not part of the build. Needs the original installed (tau2 1.0.1, commit a2c0247), e.g.:

    git clone https://github.com/sierra-research/tau2-bench /tmp/tau2src   # data/ from /work/shared/datasets/tau2
    python3.12 -m venv /tmp/tau2venv && /tmp/tau2venv/bin/pip install -e /tmp/tau2src
    TAU2_DATA_DIR=/tmp/tau2src/data /tmp/tau2venv/bin/python tools/python_reference.py \
        tests/it/fixtures/python_reference.json

For every retail and airline task it replays the gold actions through
`Environment.get_response` and records the initial hash, the final hash, a
sha256 of the tool message contents and the DB / COMMUNICATE rewards of the
original evaluators; it also runs the probe calls of `tools/probes.json`
(one environment per domain, in order) and records each content and the hash
after it.
"""

import hashlib
import json
import sys
from pathlib import Path

from tau2.data_model.message import AssistantMessage, ToolCall, ToolMessage
from tau2.domains.airline.environment import get_environment as airline_env
from tau2.domains.airline.environment import get_tasks as airline_tasks
from tau2.domains.retail.environment import get_environment as retail_env
from tau2.domains.retail.environment import get_tasks as retail_tasks
from tau2.evaluator.evaluator_communicate import CommunicateEvaluator
from tau2.evaluator.evaluator_env import EnvironmentEvaluator
from tau2.user.user_simulator import UserSimulator

HERE = Path(__file__).parent
DOMAINS = {"retail": (retail_env, retail_tasks), "airline": (airline_env, airline_tasks)}


def gold(domain):
    make_env, get_tasks = DOMAINS[domain]
    out = {"initial_hash": make_env().get_db_hash(), "tasks": {}}
    for task in get_tasks(None):
        env = make_env()
        contents, messages = [], []
        for i, action in enumerate(task.evaluation_criteria.actions or []):
            call = ToolCall(id=f"call_{i}", name=action.name, arguments=action.arguments)
            reply = env.get_response(call)
            contents.append(reply.content)
            messages.append(AssistantMessage(role="assistant", tool_calls=[call]))
            messages.append(ToolMessage(id=call.id, role="tool", content=reply.content, requestor="assistant"))
        info = task.evaluation_criteria.communicate_info or []
        if info:
            messages.append(AssistantMessage(role="assistant", content="; ".join(info)))
        env_reward = EnvironmentEvaluator.calculate_reward(
            environment_constructor=make_env, task=task, full_trajectory=messages
        )
        comm_reward = CommunicateEvaluator.calculate_reward(task=task, full_trajectory=messages)
        out["tasks"][task.id] = {
            "final_hash": env.get_db_hash(),
            "observations_sha256": hashlib.sha256(json.dumps(contents).encode()).hexdigest(),
            "observations": len(contents),
            "db_reward": env_reward.db_check.db_reward if env_reward.db_check else None,
            "communicate_reward": comm_reward.reward,
        }
    first = get_tasks(None)[0]
    out["user_system_prompt_task0"] = UserSimulator(llm="none", instructions=str(first.user_scenario)).system_prompt
    return out


def probes(domain):
    make_env, _ = DOMAINS[domain]
    env = make_env()
    out = []
    for i, probe in enumerate(json.loads((HERE / "probes.json").read_text())[domain]):
        reply = env.get_response(ToolCall(id=f"p{i}", name=probe["name"], arguments=probe["arguments"]))
        out.append({**probe, "content": reply.content, "error": reply.error, "hash_after": env.get_db_hash()})
    return out


if __name__ == "__main__":
    result = {d: {**gold(d), "probes": probes(d)} for d in DOMAINS}
    Path(sys.argv[1]).write_text(json.dumps(result, indent=1, ensure_ascii=True) + "\n")
