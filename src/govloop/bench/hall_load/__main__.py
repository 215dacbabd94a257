"""`python -m govloop.bench.hall_load PLAN OUTCOME`: the load generator process.

Started by `govloop bench hall` as a fresh interpreter that imports only the generator (not
the CLI and the application), reads its pickled plan and writes its pickled outcome.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

from govloop.bench.hall_load.generator import run_load


def main(plan_path: str, outcome_path: str) -> None:
    plan = pickle.loads(Path(plan_path).read_bytes())
    Path(outcome_path).write_bytes(pickle.dumps(run_load(plan)))


if __name__ == "__main__":
    main(*sys.argv[1:3])
