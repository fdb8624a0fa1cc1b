"""`run.py cluster --node-cmd`: which program each node runs.

`--node-cmd "python3 my_node.py"` gives every node that program;
`--node-cmd 3="node mine.js"` (repeatable) gives it to node 3 only. In a
cluster where only some nodes are the student's, the others run ReplicaLab's
own lab 12 model answer (`--node-model`, stage 3 by default: the
majority-replicated leader), because ReplicaLab's Dynamo node does not speak
the student's protocol.
"""
from __future__ import annotations

import os
import re
import shlex
import sys
from typing import Dict, List, Optional

from cluster.errors import BadRequest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = {1: "model_1_single_copy", 2: "model_2_primary_backup", 3: "model_3_majority_leader"}
DEFAULT_MODEL = 3
PER_NODE = re.compile(r"(\d{1,6})=(.*)", re.DOTALL)


def model_command(stage: int) -> str:
    """The command that runs lab 12's Python model answer of `stage` with this interpreter."""
    if stage not in MODELS:
        raise BadRequest(f"--node-model must be one of {', '.join(map(str, MODELS))} (lab 12's stages), "
                         f"not {stage}.", field="node_model")
    path = os.path.join(ROOT, "labs", "lab12_build_your_own_replica", "python", f"{MODELS[stage]}.py")
    return shlex.join([sys.executable, path])


def node_commands(values: Optional[List[str]], nodes: int, model_stage: int = DEFAULT_MODEL) -> Dict[int, str]:
    """Node id -> command for every node, from the --node-cmd values; {} when none was given.

    Raises BadRequest with a sentence on a node id out of range, a node named twice,
    two commands for all nodes, or an empty command.
    """
    if not values:
        return {}
    everyone: Optional[str] = None
    chosen: Dict[int, str] = {}
    for value in values:
        match = PER_NODE.fullmatch(value.strip())
        command = (match.group(2) if match else value).strip()
        if not command:
            raise BadRequest(f"--node-cmd {value!r} has no command; give the program to run, e.g. "
                             "--node-cmd \"python3 my_node.py\" or --node-cmd 3=\"node mine.js\".")
        if match is None:
            if everyone is not None:
                raise BadRequest("--node-cmd without a node id is given twice; give it once for every node, "
                                 "and N=CMD for single nodes.")
            everyone = command
            continue
        node = int(match.group(1))
        if not 0 <= node < nodes:
            raise BadRequest(f"--node-cmd {node}=... names node {node}, but the nodes are 0 to {nodes - 1}.")
        if node in chosen:
            raise BadRequest(f"--node-cmd names node {node} twice.")
        chosen[node] = command
    fallback = everyone if everyone is not None else model_command(model_stage)
    return {i: chosen.get(i, fallback) for i in range(nodes)}


def describe(commands: Dict[int, str], model_stage: int = DEFAULT_MODEL) -> str:
    """One line per node for the banner: which program it runs."""
    model = model_command(model_stage)
    return "\n".join(f"  node-{i} (n{i}): " + (f"lab 12 model answer, stage {model_stage}" if command == model
                                               else command) for i, command in sorted(commands.items()))
