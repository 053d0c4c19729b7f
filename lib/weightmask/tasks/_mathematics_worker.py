"""One generating process for :mod:`weightmask.tasks.mathematics`, run as a script by its path
(importing the ``weightmask`` package would import torch: seconds per process for nothing).

Reads a job ``{"task", "level", "size", "seeds": [[chunk, seed], ...]}`` as JSON from stdin and
prints one JSON line ``{"chunk": k, "pairs": [[question, answer], ...]}`` per chunk. Every chunk
seeds ``random`` and ``numpy`` itself, and the parent fixes ``PYTHONHASHSEED``, so a chunk is the
same whichever process makes it and whatever it made before.
"""
from __future__ import annotations

import json
import random
import sys

import numpy as np

if __package__:
    from ._mathematics_compat import patch
else:  # run by path: the compatibility layer is beside this file
    from _mathematics_compat import patch


def module_for(task: str, level: int, levels: int = 3):
    """The generator of ``task`` ("area__name") at difficulty ``level`` of ``levels``, as the
    package's own ``generate.py --train_split`` builds its train-easy / -medium / -hard modules."""
    patch()
    from mathematics_dataset import generate
    from mathematics_dataset.modules import modules
    area, name = task.split("__", 1)
    return modules.train(generate._make_entropy_fn(level, levels))[area][name]


def sample(module) -> tuple[str, str]:
    """One (question, answer), redrawn while too long, as ``generate.sample_from_module`` does."""
    from mathematics_dataset import generate_settings as limits
    while True:
        problem = module()
        question, answer = str(problem.question), str(problem.answer)
        if len(question) <= limits.MAX_QUESTION_LENGTH and len(answer) <= limits.MAX_ANSWER_LENGTH:
            return question, answer


def main() -> None:
    job = json.load(sys.stdin)
    module = module_for(job["task"], job["level"])
    for chunk, seed in job["seeds"]:
        random.seed(seed)
        np.random.seed(seed)
        pairs = [sample(module) for _ in range(job["size"])]
        print(json.dumps({"chunk": chunk, "pairs": pairs}), flush=True)


if __name__ == "__main__":
    main()
