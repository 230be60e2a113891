"""Speed, peak memory and quality of the shipped classifier for each inference option, and the wall
time of one training epoch.

OPP-115 segments average about 95 XLM-R tokens (median 81, 99th percentile 296), and one such
segment costs e5-small about 4 GFLOP: a CPU's matrix throughput, not Python, sets the pace. This
script measures what each option buys on the policy-split test (831 segments, the OPP-115 length
mix): segments per second (the median of `--repeats` timed passes after a warm-up batch), the peak
resident memory of a fresh process that loads the model and runs the option, and macro- and
micro-F1 at the model's thresholds, with the macro-F1 difference from fp32. The option the
classifier uses by default must stay within 0.5 macro-F1 points of fp32.

    python benchmarks/inference_speed.py [--limit N] [--repeats 3] [--options fp32 int8 ...]
                                         [--model DIR] [--run runs/e5-small-policy-split-translated] [--measure-epoch]
                                         [--device cpu|cuda]

Options: "fp32-fixed256" is the naive reference (windows in input order, batches of 32 each padded
to the full 256-token window); the others sort windows by length and pad each batch to its longest,
as `ClauseClassifier` does, at a precision (fp32, bf16, int8) and batch size (`-b8`...), with
torch's default thread count (one per core) or, with `-t1`, one thread; "bf16-b16-sdpa" runs
torch's fused attention kernel instead of the classifier's CPU matmul attention. The table marks the
option `ClauseClassifier.from_pretrained()` uses by default on this machine. With `--device cuda`
the same measurements run on the GPU (default options: fp32 and bf16 at GPU batch sizes), and the
table adds the peak GPU memory that torch allocated.

The epoch time comes from a training run's metrics.jsonl (`--run`), or, with `--measure-epoch`,
from training one epoch of that run's config here (on the first `--limit` training segments when
given). Run it on an otherwise idle machine: other processes on the cores skew every number.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import yaml

from privacy_clauses.data.corpora import DataConfig, load_splits
from privacy_clauses.data.records import label_matrix
from privacy_clauses.evaluate.metrics import binarize, classification_metrics
from privacy_clauses.model.classifier import (DEFAULT_BATCH_SIZE, PRECISIONS, ClauseClassifier, bf16_supported,
                                               max_pool, pad_batch, resolve_precision)

CPU_BATCH_SIZES = (8, 16, 32)
GPU_BATCH_SIZES = (32, DEFAULT_BATCH_SIZE["cuda"], 512)
BATCH_SIZES = tuple(sorted(set(CPU_BATCH_SIZES + GPU_BATCH_SIZES)))
DEFAULT_BATCH = DEFAULT_BATCH_SIZE["cpu"]
GPU_BATCH = DEFAULT_BATCH_SIZE["cuda"]


@dataclass(frozen=True)
class Option:
    precision: str
    batch_size: int
    threads: int | None = None  # None: torch's default
    fixed_padding: bool = False
    fused_attention: bool = False  # bf16 on a CPU: torch's fused kernel instead of the classifier's matmuls

    def is_default(self, device: torch.device) -> bool:
        """Whether this is what `ClauseClassifier.from_pretrained()` does on `device`."""
        return (not self.fixed_padding and not self.fused_attention and self.threads is None
                and self.batch_size == DEFAULT_BATCH_SIZE.get(device.type)
                and self.precision == resolve_precision(None, device))


OPTIONS = {
    "fp32-fixed256": Option("fp32", 32, fixed_padding=True),
    **{f"{p}-b{b}": Option(p, b) for p in PRECISIONS for b in BATCH_SIZES},
    **{f"{p}-b{DEFAULT_BATCH}-t1": Option(p, DEFAULT_BATCH, threads=1) for p in PRECISIONS},
    f"bf16-b{DEFAULT_BATCH}-sdpa": Option("bf16", DEFAULT_BATCH, fused_attention=True),
}
DEFAULT_OPTIONS = {
    "cpu": ["fp32-fixed256", *(f"{p}-b{b}" for p in PRECISIONS for b in CPU_BATCH_SIZES),
            *(f"{p}-b{DEFAULT_BATCH}-t1" for p in PRECISIONS), f"bf16-b{DEFAULT_BATCH}-sdpa"],
    "cuda": ["fp32-fixed256", f"fp32-b{GPU_BATCH}", *(f"bf16-b{b}" for b in GPU_BATCH_SIZES)],
}
REFERENCE = {"cpu": f"fp32-b{DEFAULT_BATCH}", "cuda": f"fp32-b{GPU_BATCH}"}  # quality differences are measured from these


# ---------------------------------------------------------------------------------- one option
@torch.inference_mode()
def fixed_padding_proba(classifier: ClauseClassifier, texts: list[str]) -> np.ndarray:
    """The naive reference: windows in input order, each batch padded to the full window length."""
    windows = classifier.windows(texts)
    scores = np.zeros((len(windows.input_ids), len(classifier.labels)), dtype=np.float32)
    for start in range(0, len(windows.input_ids), classifier.batch_size):
        ids, attention = pad_batch(windows.input_ids[start:start + classifier.batch_size],
                                   classifier.tokenizer.pad_token_id)
        width = classifier.max_length - ids.shape[1]
        ids, attention = F.pad(ids, (0, width), value=classifier.tokenizer.pad_token_id), F.pad(attention, (0, width))
        logits = classifier.model(input_ids=ids.to(classifier.device), attention_mask=attention.to(classifier.device)).logits
        scores[start:start + len(ids)] = torch.sigmoid(logits.float()).cpu().numpy()
    return max_pool(scores, windows.text_index, len(texts))


def measure(name: str, model: str | None, limit: int | None, repeats: int, device: str = "cpu") -> dict:
    """Load the model as `name` says, time `repeats` passes over the test texts, score the last."""
    option = OPTIONS[name]
    if option.threads is not None:
        torch.set_num_threads(option.threads)
    segments = load_splits(DataConfig())["test"][:limit]
    texts = [s.model_input for s in segments]
    classifier = ClauseClassifier.from_pretrained(model, device=device, batch_size=option.batch_size,
                                                  precision=option.precision)
    if option.fused_attention:
        classifier.model.set_attn_implementation("sdpa")
    predict = (lambda t: fixed_padding_proba(classifier, t)) if option.fixed_padding else classifier.predict_proba
    predict(texts[:option.batch_size])  # warm-up: first-call allocations and kernel choices
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        scores = predict(texts)
        seconds.append(time.perf_counter() - start)
    targets, mask = label_matrix(segments, classifier.label_view)
    metrics = classification_metrics(targets, binarize(scores, classifier.thresholds), classifier.labels, mask)
    windows = classifier.windows(texts)
    gpu_mib = torch.cuda.max_memory_allocated() / 2**20 if classifier.device.type == "cuda" else None
    return {"option": name + (" (default)" if option.is_default(classifier.device) else ""),
            "precision": classifier.precision, "peak_gpu_mib": gpu_mib,
            "threads": torch.get_num_threads(),
            "batch_size": option.batch_size, "segments": len(texts), "windows": len(windows.input_ids),
            "max_length": classifier.max_length,
            "tokens": sum(map(len, windows.input_ids)), "segments_per_second": len(texts) / float(np.median(seconds)),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
            "macro_f1": metrics["macro_f1"], "micro_f1": metrics["micro_f1"]}


def measure_in_subprocess(name: str, args: argparse.Namespace) -> dict:
    """`measure` in a fresh interpreter, so that its peak memory and thread setting are its own."""
    command = [sys.executable, __file__, "--worker", name, "--repeats", str(args.repeats), "--device", args.device]
    command += ["--limit", str(args.limit)] if args.limit else []
    command += ["--model", args.model] if args.model else []
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"option {name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------- training epoch
def epochs_from_run(run: Path) -> str:
    """What the run's metrics.jsonl says about epoch wall times (each includes its validation pass)."""
    path = run / "metrics.jsonl"
    if not path.is_file():
        return f"no {path}; pass --run with a training run's directory, or --measure-epoch"
    seconds = [r["seconds"] for r in map(json.loads, path.read_text().splitlines()) if r.get("event") == "epoch"]
    return (f"{run.name}: {len(seconds)} epochs, median {np.median(seconds):.0f} s per epoch "
            f"(range {min(seconds):.0f}-{max(seconds):.0f} s, validation pass included), from {path}")


def measure_epoch(run: Path, limit: int | None) -> str:
    """Train one epoch of the run's config (no validation) in a scratch directory and time it."""
    from privacy_clauses.train.config import load_config
    from privacy_clauses.train.run import training_data
    from privacy_clauses.train.transformer import fit_transformer

    raw = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as scratch:
        config = load_config(run / "config.yaml", output_dir=scratch, training=raw["training"] | {"epochs": 1})
        train = training_data(config)[0][:limit]
        start = time.perf_counter()
        fit_transformer(config, train, [], scratch)
        total = time.perf_counter() - start
        epoch = json.loads((Path(scratch) / "metrics.jsonl").read_text().splitlines()[0])["seconds"]
    return (f"{config.name}, measured here on {len(train)} training segments: one epoch {epoch:.0f} s; "
            f"{total:.0f} s with loading the model and caching the frozen layers' outputs")


# ---------------------------------------------------------------------------------- report
def machine(device: str) -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")),
                 platform.processor() or "unknown CPU")
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), [])
    isa = [f for f in ("avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16") if f in flags]
    return (f"{model}, {os.cpu_count()} logical cores ({' '.join(isa) or 'no AVX-512'}); torch {torch.__version__}, "
            f"{torch.get_num_threads()} intra-op / {torch.get_num_interop_threads()} inter-op threads by default, "
            f"native bf16: {'yes' if bf16_supported(torch.device('cpu')) else 'no'}"
            + (f"; GPU: {torch.cuda.get_device_name()}, CUDA {torch.version.cuda}" if device == "cuda" else ""))


def table(results: list[dict], device: str) -> str:
    reference = next((r["macro_f1"] for r in results if r["option"].split()[0] == REFERENCE[device]), None)
    gpu = device == "cuda"
    rows = ["| option | precision | threads | batch | segments/s | peak RSS (MiB) |" + (" peak GPU (MiB) |" if gpu else "")
            + " macro-F1 | micro-F1 | Δ macro-F1 (points) |",
            "|---|---|---:|---:|---:|---:|" + ("---:|" if gpu else "") + "---:|---:|---:|"]
    for r in results:
        delta = "" if reference is None else f"{100 * (r['macro_f1'] - reference):+.2f}"
        rows.append(f"| {r['option']} | {r['precision']} | {r['threads']} | {r['batch_size']} | "
                    f"{r['segments_per_second']:.1f} | {r['peak_rss_mib']:.0f} | "
                    + (f"{r['peak_gpu_mib']:.0f} | " if gpu else "")
                    + f"{r['macro_f1']:.4f} | {r['micro_f1']:.4f} | {delta} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, help="only the first N test (and, with --measure-epoch, training) segments")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per option; the median counts")
    parser.add_argument("--options", nargs="+", choices=list(OPTIONS),
                        help="default: the usual options for --device (all CPU options but the big batches)")
    parser.add_argument("--device", choices=list(DEFAULT_OPTIONS), default="cpu")
    parser.add_argument("--model", help="a saved classifier directory; default: the shipped model")
    parser.add_argument("--run", type=Path, default=Path("runs/e5-small-policy-split-translated"),
                        help="training run whose metrics.jsonl gives the epoch time (and config, for --measure-epoch)")
    parser.add_argument("--measure-epoch", action="store_true", help="train one epoch here instead of reading it")
    parser.add_argument("--worker", choices=list(OPTIONS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if (args.limit is not None and args.limit < 1) or args.repeats < 1:
        parser.error("--limit and --repeats must be positive")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA GPU here")
    if args.worker:
        print(json.dumps(measure(args.worker, args.model, args.limit, args.repeats, args.device)))
        return

    print(f"Machine: {machine(args.device)}")
    args.options = args.options or DEFAULT_OPTIONS[args.device]
    results = []
    for name in args.options:
        results.append(measure_in_subprocess(name, args))
        print(f"  measured {name}: {results[-1]['segments_per_second']:.1f} segments/s", file=sys.stderr)
    first = results[0]
    print(f"Data: OPP-115 policy-split test, {first['segments']} segments, {first['windows']} windows of at most "
          f"{first['max_length']} tokens, {first['tokens'] / first['segments']:.0f} tokens per segment on average; "
          f"median of {args.repeats} timed pass(es) after a warm-up batch.\n")
    print(table(results, args.device))
    print(f"\nTraining epoch: {measure_epoch(args.run, args.limit) if args.measure_epoch else epochs_from_run(args.run)}")


if __name__ == "__main__":
    main()
