"""`privacy-clauses data`: statistics, export and download of the corpora."""
from __future__ import annotations

import argparse
import sys

from privacy_clauses.data.corpora import SOURCES, DataConfig, load_splits
from privacy_clauses.data.download import download_opp115
from privacy_clauses.data.export import export_parquet, stats_table


def add_data_arguments(parser: argparse.ArgumentParser, default_source: str | None = "opp115") -> None:
    """The options that select a corpus; shared with `privacy-clauses evaluate --model`."""
    group = parser.add_argument_group("data")
    group.add_argument("--source", choices=SOURCES, default=default_source,
                       help=f"corpus (default: {default_source})" if default_source else "corpus (required)")
    group.add_argument("--path", help="corpus folder (default: under $PRIVACY_CLAUSES_DATA or ../shared/data)")
    group.add_argument("--view", help="label view: opp115-10 or opp115-12 (or 10, 12); default: the "
                       "model's labels, else 12 for opp115-majority and 10 otherwise")
    group.add_argument("--rule", default="majority", help="OPP-115 aggregation: majority or union")
    group.add_argument("--split-file", help="OPP-115 policy split JSON (default: the benchmark policy split)")
    group.add_argument("--file", action="append", default=[], metavar="SPLIT=PATH",
                       help="with --source files: a JSONL/CSV file for a split (repeatable)")
    group.add_argument("--languages", nargs="+", metavar="CODE",
                       help="MAPP or the translated set: only these languages (e.g. de en); default: all")
    group.add_argument("--keep-unlabeled", action="store_true", help="keep segments without any label")


def data_config(args: argparse.Namespace) -> DataConfig:
    files = {}
    for item in args.file:
        split, sep, path = item.partition("=")
        if not sep:
            raise ValueError(f"--file {item!r}: expected SPLIT=PATH, e.g. train=my_data.jsonl")
        files[split] = path
    return DataConfig(source=args.source, path=args.path, view=args.view, rule=args.rule,
                      split_file=args.split_file, files=files, languages=args.languages,
                      keep_unlabeled=args.keep_unlabeled)


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog or "python -m privacy_clauses.data", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True)
    stats = verbs.add_parser("stats", help="segments and labels per split, category and language")
    add_data_arguments(stats)
    export = verbs.add_parser("export", help="write one Parquet file per split")
    add_data_arguments(export)
    export.add_argument("-o", "--output", required=True, help="output folder")
    download = verbs.add_parser("download", help="download OPP-115 from its official page into the cache")
    download.add_argument("--dest", help="folder to unpack into (default: the cache)")
    args = parser.parse_args(argv)
    try:
        if args.verb == "download":
            print(f"OPP-115 is in {download_opp115(args.dest)}")
            return 0
        config = data_config(args)
        splits = load_splits(config)
        if args.verb == "stats":
            where = config.corpus_path() or ", ".join(f"{k}={v}" for k, v in config.files.items())
            print(f"{config.source} ({where}), view {config.view}, rule {config.rule}\n")
            print(stats_table(splits, config.view))
        else:
            for path in export_parquet(splits, config.view, args.output):
                print(f"wrote {path}")
    except (OSError, ValueError) as err:
        print(f"privacy-clauses data: error: {err}", file=sys.stderr)
        return 2
    return 0
