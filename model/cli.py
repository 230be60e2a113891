"""`privacy-clauses classify`: label every clause of policy files and folders.

Records (one per clause, the predictions-file format) go to stdout as JSON Lines, or to `-o OUT`
as JSON Lines, CSV or Parquet; with `-o`, document summaries and the run summary go beside OUT.
A file that cannot be read is reported on stderr with its reason and skipped; the others are
classified. Exit status: 0 if every document was classified, 1 if any was skipped, 2 for a usage
error (bad options, a model that cannot be loaded, nothing to read, a resume that does not fit).
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Sequence

from tqdm import tqdm

from privacy_clauses.data.documents import iter_document_paths
from privacy_clauses.model.classify import Classifier, DocumentFailure, classify_paths
from privacy_clauses.model.html_report import write_report
from privacy_clauses.model.outputs import FORMATS, OutputFiles, RunSummary, StreamOutput, output_format

DEFAULT_PROG = "python -m privacy_clauses.model"
SHIPPED_MODEL = "shipped"


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Label every clause of privacy policies (files or folders, searched "
                               "recursively) with OPP-115 categories.",
        epilog="With -o OUT, the document summaries go to OUT with suffix .documents.jsonl and the run "
               "summary to OUT with suffix .run.json; without it, records go to stdout and the run summary "
               "to stderr. Exit status: 0 all classified, 1 some skipped, 2 usage error.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="policy files (.txt .md .html .pdf .docx) or folders")
    parser.add_argument("-o", "--output", metavar="OUT",
                        help="records file, written as a whole at the end (default: stdout, JSON Lines)")
    parser.add_argument("--format", choices=FORMATS,
                        help="records format (default: from OUT's suffix, else jsonl); parquet needs -o")
    parser.add_argument("--model", metavar="NAME_OR_DIR",
                        help="saved model directory or Hugging Face Hub id (default: the shipped model)")
    parser.add_argument("--html", metavar="DIR", help="also write one HTML report per document into DIR")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run with the same -o OUT and paths")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def load_classifier(name: str | None) -> Classifier:
    """The shipped model, a saved directory (transformer or baseline) or a Hub id."""
    from privacy_clauses.model import load_model  # imports torch for a transformer: only when needed

    return load_model(name)


def _prepare(args: argparse.Namespace, prog: str
             ) -> tuple[str, list[Path], Classifier, StreamOutput | OutputFiles, list[dict] | None]:
    """Everything that can fail for usage reasons, checked before any document is read: the
    format, the paths, the model, the output (resumed or new)."""
    fmt = output_format(args.output, args.format)
    if args.resume and args.output is None:
        raise ValueError("--resume needs -o OUT: only a run into a file can be resumed")
    if args.output is not None and Path(args.output).is_dir():
        raise ValueError(f"-o {args.output} is a folder; name the records file, "
                         f"e.g. {Path(args.output) / 'labels.jsonl'}")
    if args.html is not None and Path(args.html).exists() and not Path(args.html).is_dir():
        raise ValueError(f"--html {args.html} is a file; give a folder for the reports")
    paths = list(iter_document_paths(args.paths))
    if not paths:
        raise ValueError(f"no files in {', '.join(args.paths)}")
    model = load_classifier(args.model)
    if args.output is None:
        return fmt, paths, model, StreamOutput(sys.stdout, fmt, model.labels), []
    output = OutputFiles(args.output, fmt, model.labels, model.thresholds)
    return fmt, paths, model, output, _open(output, args.resume, [str(p) for p in paths], prog)


def _open(output: OutputFiles, resume: bool, document_ids: list[str], prog: str) -> list[dict] | None:
    """Start the run's files, or resume them after checking that the finished documents are the
    first of `document_ids`, in order; None if OUT is already complete."""
    if not resume:
        if output.unfinished:
            print(f"{prog}: starting over; discarding the unfinished run in {output.records_path} "
                  "(use --resume to continue it)", file=sys.stderr)
        output.start()
        return []
    done = output.resume()
    if done is not None:
        finished = [entry["document_id"] for entry in done]
        if finished != document_ids[:len(finished)]:
            output.close()
            raise ValueError(f"--resume: the unfinished run in {output.records_path} read other documents "
                             f"than these paths give; run without --resume to start over")
    return done


def _run(args: argparse.Namespace, prog: str, fmt: str, paths: list[Path], model: Classifier,
         output: StreamOutput | OutputFiles, done: list[dict]) -> int:
    """Classify the documents not done yet, write as each finishes, then the summaries."""
    summary = RunSummary()
    for entry in done:
        summary.add(entry)
    bars = not args.quiet and sys.stderr.isatty()
    documents = tqdm(total=len(paths), initial=len(done), desc="documents", unit="doc", disable=not bars)
    clauses = tqdm(desc="clauses", unit="clause", disable=not bars)
    try:
        clock = time.perf_counter()
        for item in classify_paths(paths[len(done):], model, progress=clauses.update):
            now = time.perf_counter()
            summary.add(output.add(item, now - clock))
            clock = now
            if isinstance(item, DocumentFailure):
                tqdm.write(f"{prog}: skipped {item.document_id}: {item.reason}", file=sys.stderr)
            elif args.html:
                write_report(item, args.html)
            documents.update()
    finally:
        documents.close()
        clauses.close()
        if isinstance(output, OutputFiles):
            output.close()  # the journals stay for --resume if the loop did not end

    print(f"{prog}: {summary.describe()}", file=sys.stderr)
    if isinstance(output, OutputFiles):
        context = {"model": args.model or SHIPPED_MODEL, "labels": list(model.labels),
                   "thresholds": dict(zip(model.labels, map(float, model.thresholds))),
                   "output": args.output, "format": fmt}
        written = output.finish(summary.to_dict(**context))
        print(f"{prog}: wrote {', '.join(map(str, written))}", file=sys.stderr)
    return 1 if summary.skipped else 0


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run the command; a usage error prints one line to stderr and returns 2."""
    argv = sys.argv[1:] if argv is None else list(argv)
    prog = prog or DEFAULT_PROG
    args = _parser(prog).parse_args(argv)
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # a damaged PDF is reported once, with its reason
    try:
        fmt, paths, model, output, done = _prepare(args, prog)
    except OSError as err:
        print(f"{prog}: error: {f'{err.filename}: {err.strerror}' if err.filename and err.strerror else err}",
              file=sys.stderr)
        return 2
    except ValueError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    if done is None:
        print(f"{prog}: {args.output} is already complete; nothing to resume "
              "(run without --resume to classify again)", file=sys.stderr)
        return 0
    try:
        return _run(args, prog, fmt, paths, model, output, done)
    except KeyboardInterrupt:
        hint = " (run again with --resume to continue)" if isinstance(output, OutputFiles) else ""
        print(f"{prog}: interrupted{hint}", file=sys.stderr)
        return 130
