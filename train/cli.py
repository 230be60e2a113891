"""`privacy-clauses train CONFIG`: train a classifier from a YAML config (a path or a shipped name)."""
from __future__ import annotations

import argparse
import sys

from privacy_clauses.train.config import CONFIG_DIR, load_config
from privacy_clauses.train.run import train


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    shipped = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
    parser = argparse.ArgumentParser(prog=prog or "python -m privacy_clauses.train", description=__doc__)
    parser.add_argument("config", help=f"YAML config file, or a shipped config: {shipped}")
    parser.add_argument("--output-dir", help="override the config's output_dir")
    parser.add_argument("--seed", type=int, help="override the config's seed")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint in output_dir")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config, output_dir=args.output_dir, seed=args.seed)
        model_dir = train(config, resume=args.resume)
    except (OSError, ValueError) as err:
        print(f"privacy-clauses train: error: {err}", file=sys.stderr)
        return 2
    print(f"saved {model_dir}")
    return 0
