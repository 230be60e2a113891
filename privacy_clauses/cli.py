"""`privacy-clauses <verb>`: one verb per stage, each the same as `python -m privacy_clauses.<stage>`."""
from __future__ import annotations

import importlib
import sys

VERBS = {
    "data": ("privacy_clauses.data.cli", "read corpora, print statistics, export datasets, download OPP-115"),
    "train": ("privacy_clauses.train.cli", "train a classifier from a YAML config"),
    "evaluate": ("privacy_clauses.evaluate.cli", "score predictions or a model; write and compare reports"),
    "classify": ("privacy_clauses.model.cli", "label every clause of documents (files or folders)"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in VERBS:
        width = max(map(len, VERBS))
        lines = [f"  {verb:<{width}}  {help_}" for verb, (_, help_) in VERBS.items()]
        print("usage: privacy-clauses <verb> [options]\n\nverbs:\n" + "\n".join(lines))
        if argv and argv[0] not in ("-h", "--help"):
            print(f"\nprivacy-clauses: unknown verb {argv[0]!r}", file=sys.stderr)
            return 2
        return 0
    module = importlib.import_module(VERBS[argv[0]][0])
    return module.main(argv[1:], prog=f"privacy-clauses {argv[0]}")


if __name__ == "__main__":
    sys.exit(main())
