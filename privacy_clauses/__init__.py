"""privacy-clauses: OPP-115 data-practice labels for every clause of a privacy policy."""
from privacy_clauses.data.records import Segment
from privacy_clauses.labels import CATEGORIES, OPP115_10, OPP115_12, LabelView, get_view

__version__ = "0.1.0"
__all__ = ["CATEGORIES", "OPP115_10", "OPP115_12", "LabelView", "Segment", "get_view", "__version__"]
