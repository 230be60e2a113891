"""privacy-clauses: OPP-115 data-practice labels for every clause of a privacy policy.

    from privacy_clauses import ClauseClassifier
    model = ClauseClassifier.from_pretrained()      # the shipped model, offline
    model.predict(["We share your e-mail address with advertisers."])
"""
from privacy_clauses.data.records import Segment
from privacy_clauses.labels import CATEGORIES, OPP115_10, OPP115_12, LabelView, get_view

__version__ = "0.1.0"
__all__ = ["CATEGORIES", "ClauseClassifier", "OPP115_10", "OPP115_12", "LabelView", "Segment",
           "get_view", "__version__"]


def __getattr__(name: str):
    # The classifier imports torch and transformers; load them only when it is asked for.
    if name == "ClauseClassifier":
        from privacy_clauses.model.classifier import ClauseClassifier

        return ClauseClassifier
    raise AttributeError(f"module 'privacy_clauses' has no attribute {name!r}")
