"""A Python workflow that runs a procbox plugin through the `procbox.run`
activity of a `procbox worker`, as a workflow of your own would.

    python run_plugin.py --address 127.0.0.1:7233 --task-queue plugins \
        '{"plugin": "hello", "args": ["world"]}'

It starts a Python worker for its own workflow on a task queue of its own
(`<task-queue>-py`), runs the workflow once, and prints the plugin's result
as JSON. A plugin's failure prints the application error's type and
message on stderr and exits 1.
"""

import argparse
import asyncio
import json
import os
import sys
import uuid
from datetime import timedelta

from temporalio import workflow
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker


@workflow.defn(name="run-plugin-from-python")
class RunPlugin:
    @workflow.run
    async def run(self, request: dict) -> dict:
        # The activity is named, not imported: it lives in the procbox worker.
        return await workflow.execute_activity(
            "procbox.run",
            request["input"],
            task_queue=request["task_queue"],
            start_to_close_timeout=timedelta(seconds=60),
            heartbeat_timeout=timedelta(seconds=5),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", required=True)
    parser.add_argument("input", help="the procbox.run input, as JSON")
    args = parser.parse_args()
    client = await Client.connect(args.address)
    own_queue = f"{args.task_queue}-py"
    async with Worker(
        client,
        task_queue=own_queue,
        workflows=[RunPlugin],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        try:
            result = await client.execute_workflow(
                RunPlugin.run,
                {"input": json.loads(args.input), "task_queue": args.task_queue},
                id=f"run-plugin-{uuid.uuid4()}",
                task_queue=own_queue,
            )
        except WorkflowFailureError as e:
            cause = e.cause.cause if isinstance(e.cause, ActivityError) else e.cause
            if isinstance(cause, ApplicationError):
                print(f"{cause.type}: {cause.message}", file=sys.stderr)
            else:
                print(f"failed: {e.cause}", file=sys.stderr)
            return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    code = asyncio.run(main())
    sys.stdout.flush()
    sys.stderr.flush()
    # temporalio 1.35's core threads can abort the interpreter's
    # finalization ("PyGILState_Release ... must be current"), turning a
    # success into a crash: leave without finalizing, the work is done.
    os._exit(code)
