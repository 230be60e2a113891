"""Compare models across languages in one table: English quality, MAPP per language, translations.

For each model (NAME=DIR) this scores, with the model's own thresholds:
- the OPP-115 policy-split test (English, 10 categories): micro- and macro-F1;
- MAPP's development part (the apps held out of MAPP training; German and English policies of the
  same apps): F1 of First Party Collection/Use and Third Party Sharing/Collection per language,
  their mean, and German minus English;
- the German policies of MAPP's development part translated into English by hand
  (benchmarks/data/README.md): German minus this English is the part of the German gap that is
  language alone, the same content read in two languages;
- the translated OPP-115 validation set (`opp115-translated`: the same 290 segments in English and six
  translations, all ten categories): macro-F1 per language and each language minus English, at the
  model's thresholds and at thresholds cross-fitted over 5 folds of its documents. The English
  segments are the OPP-115 validation set the model's thresholds were tuned on, the translations
  are not; cross-fitting scores every language out of sample, so only it compares like with like.

    python benchmarks/multilingual.py shipped=model/shipped mapp=runs/e5-small-policy-split-mapp/model \\
        [-o runs/multilingual]

Each model's full reports (report.md per data set, with per-category and per-language tables) and
its predictions go under the output folder, and the comparison table is printed and saved as
comparison.md. Seeds of one recipe are combined from the predictions, as mean ± std per language
and per gap: `privacy-clauses evaluate --predictions OUT/s0/translated/predictions.jsonl
OUT/s1/translated/predictions.jsonl ... -o OUT/seeds-translated`.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from privacy_clauses.data.corpora import DataConfig, load_splits
from privacy_clauses.evaluate.markdown import percent, point_interval, points, table
from privacy_clauses.evaluate.predictions import write_predictions
from privacy_clauses.evaluate.report import build_report, write_report
from privacy_clauses.labels import FIRST_PARTY, THIRD_PARTY
from privacy_clauses.model.classifier import ClauseClassifier

MAPP_GERMAN_IN_ENGLISH = Path(__file__).parent / "data" / "mapp_dev_german_in_english.jsonl.gz"
DATA = {  # name: (config, part)
    "policy-test": (DataConfig(source="opp115"), "test"),
    "mapp-dev": (DataConfig(source="mapp"), "validation"),
    "mapp-dev-de-in-en": (DataConfig(source="files", files={"validation": str(MAPP_GERMAN_IN_ENGLISH)}),
                          "validation"),
    "translated": (DataConfig(source="opp115-translated"), "validation"),
}
TRANSLATED_LANGUAGES = ("en", "de", "fr", "es", "it", "ru", "zh")
CROSS_FIT_FOLDS = 5


def evaluate(classifier: ClauseClassifier, name: str, out: Path) -> dict[str, dict]:
    """The model's report on each data set, written under `out`."""
    reports = {}
    for data_name, (config, part) in DATA.items():
        segments = load_splits(config)[part]
        scores = classifier.predict_proba([s.model_input for s in segments])
        report = build_report(segments, scores, classifier.labels, classifier.thresholds,
                              name=f"{name} on {data_name}", n_bootstrap=1000)
        write_report(report, out / name / data_name)
        write_predictions(out / name / data_name / "predictions.jsonl", segments, scores, classifier.labels,
                          classifier.thresholds)
        reports[data_name] = report
        if data_name == "translated":
            report = build_report(segments, scores, classifier.labels, name=f"{name} on {data_name}, cross-fitted",
                                  n_bootstrap=1000, cross_fit_folds=CROSS_FIT_FOLDS)
            write_report(report, out / name / "translated-cross-fit")
            reports["translated-cross-fit"] = report
    return reports


def row(name: str, reports: dict[str, dict]) -> list[str]:
    test = reports["policy-test"]["metrics"]
    mapp = reports["mapp-dev"]["per_language"]
    gap = reports["mapp-dev"]["cross_lingual_gap"]["de"]["macro_f1"]
    language_gap = mapp["de"]["macro_f1"] - reports["mapp-dev-de-in-en"]["metrics"]["macro_f1"]
    translated = reports["translated"]["per_language"]
    gaps = reports["translated"]["cross_lingual_gap"]
    cells = [name, percent(test["micro_f1"]), percent(test["macro_f1"])]
    for language in ("en", "de"):
        categories = mapp[language]["per_category"]
        cells += [percent(categories[FIRST_PARTY]["f1"]), percent(categories[THIRD_PARTY]["f1"])]
    cells += [points(gap), points(language_gap)]
    return cells + translated_cells(reports["translated"])


def translated_cells(report: dict) -> list[str]:
    """Macro-F1 per language on the translated set, each with its gap to English, and the worst gap."""
    translated, gaps = report["per_language"], report["cross_lingual_gap"]
    cells = [percent(translated["en"]["macro_f1"])]
    cells += [f"{percent(translated[lang]['macro_f1'])} ({points(gaps[lang]['macro_f1'])})"
              for lang in TRANSLATED_LANGUAGES[1:]]
    return cells + [points(min(gaps[lang]["macro_f1"] for lang in TRANSLATED_LANGUAGES[1:]))]


def interval_rows(name: str, reports: dict[str, dict]) -> list[list[str]]:
    """The translated-set micro- and macro-F1 gaps with their paired bootstrap intervals, at the
    model's thresholds and cross-fitted."""
    rows = []
    for data_name, scoring in (("translated", "model's"), ("translated-cross-fit", "cross-fitted")):
        intervals = reports[data_name]["bootstrap"]["cross_lingual_gap"]["gaps"]
        for key, title in (("micro_f1", "micro"), ("macro_f1", "macro")):
            cells = [intervals[lang][key] for lang in TRANSLATED_LANGUAGES[1:]]
            rows.append([name, scoring, title] + [f"{points(c['estimate'])} ({point_interval(c['low'], c['high'])})"
                                                  for c in cells])
    return rows


TRANSLATED_HEADER = (["Transl. en"] + [f"Transl. {lang} (− en)" for lang in TRANSLATED_LANGUAGES[1:]]
                     + ["Worst transl. gap"])
HEADER = (["Model", "EN test micro", "EN test macro", "MAPP en 1st", "MAPP en 3rd", "MAPP de 1st", "MAPP de 3rd",
           "MAPP de − en", "MAPP de − de→en"] + TRANSLATED_HEADER)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", metavar="NAME=DIR", help="saved classifiers to compare")
    parser.add_argument("-o", "--output", type=Path, default=Path("runs/multilingual"))
    args = parser.parse_args()
    rows, cross_fit_rows, gap_rows = [], [], []
    for item in args.models:
        name, sep, directory = item.partition("=")
        if not sep:
            parser.error(f"{item!r}: expected NAME=DIR")
        start = time.perf_counter()
        classifier = ClauseClassifier.from_pretrained(directory)
        reports = evaluate(classifier, name, args.output)
        rows.append(row(name, reports))
        cross_fit_rows.append([name] + translated_cells(reports["translated-cross-fit"]))
        gap_rows += interval_rows(name, reports)
        print(f"  {name}: scored in {time.perf_counter() - start:.0f} s ({classifier.precision})", flush=True)
    text = ("F1 in %, gaps in points. MAPP: development apps, First Party Collection/Use and Third Party "
            "Sharing/Collection; MAPP de − en: their mean F1 on the German policies minus the English "
            "policies of the same apps (different texts); MAPP de − de→en: the German policies minus "
            "their English translation (same content). Transl.: macro-F1 over the ten categories on the "
            "translated OPP-115 validation set, each language minus English on the same segments, at "
            "the model's thresholds (tuned on the English segments of this set, so English is scored "
            "in sample).\n\n"
            + table(HEADER, rows)
            + f"\n\nTranslated set at thresholds cross-fitted over {CROSS_FIT_FOLDS} folds of its documents "
            "(each document at thresholds tuned on the English segments of the other folds, every "
            "language out of sample):\n\n"
            + table(["Model"] + TRANSLATED_HEADER, cross_fit_rows)
            + "\n\nTranslated set, each language minus English with its 95% paired bootstrap interval "
            "(documents resampled, every language scored on the same draw):\n\n"
            + table(["Model", "Thresholds", "F1"] + list(TRANSLATED_LANGUAGES[1:]), gap_rows, numeric_from=3))
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "comparison.md").write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
