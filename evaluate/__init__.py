"""Evaluation: from a model's scores to reports with uncertainty.

  metrics       binarize scores, per-category and averaged P/R/F1 under partial annotation,
                per-language breakdown, threshold tuning (validation data only)
  uncertainty   mean ± std across runs (seeds), bootstrap intervals resampling whole documents
  predictions   the JSON Lines predictions file between a model and its reports
  report        build and write one report (JSON, Markdown, PNG), or a mean ± std report of runs
  compare       several reports side by side, with published reference rows
  cli           `privacy-clauses evaluate` / `python -m privacy_clauses.evaluate`
"""
