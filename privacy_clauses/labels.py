"""The one place that spells OPP-115 category names.

OPP-115 annotates ten data-practice categories. Its "Other" category carries an "Other Type"
attribute; the 12-label view used by Mousavi Nejad et al. (2020) and PrivacyGLUE (2023) splits
"Other" by that attribute into three labels. Everything else in the project refers to labels
through the views defined here and resolves free-form names with `canonical`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

FIRST_PARTY = "First Party Collection/Use"
THIRD_PARTY = "Third Party Sharing/Collection"
USER_CHOICE = "User Choice/Control"
USER_ACCESS = "User Access, Edit and Deletion"
DATA_RETENTION = "Data Retention"
DATA_SECURITY = "Data Security"
POLICY_CHANGE = "Policy Change"
DO_NOT_TRACK = "Do Not Track"
SPECIFIC_AUDIENCES = "International and Specific Audiences"
OTHER = "Other"

INTRODUCTORY = "Introductory/Generic"
NOT_COVERED = "Practice not covered"
CONTACT = "Privacy contact information"

CATEGORIES: tuple[str, ...] = (
    FIRST_PARTY, THIRD_PARTY, USER_CHOICE, USER_ACCESS, DATA_RETENTION,
    DATA_SECURITY, POLICY_CHANGE, DO_NOT_TRACK, SPECIFIC_AUDIENCES, OTHER,
)
OTHER_TYPES: tuple[str, ...] = (INTRODUCTORY, NOT_COVERED, CONTACT)


@dataclass(frozen=True)
class LabelView:
    """An ordered label set; the order is the column order of label vectors and model outputs."""

    name: str
    labels: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)

    def index(self, label: str) -> int:
        return self.labels.index(label)

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.labels))

    @property
    def label2id(self) -> dict[str, int]:
        return {label: i for i, label in enumerate(self.labels)}


OPP115_10 = LabelView("opp115-10", CATEGORIES)
OPP115_12 = LabelView("opp115-12", CATEGORIES[:-1] + OTHER_TYPES)
VIEWS: dict[str, LabelView] = {view.name: view for view in (OPP115_10, OPP115_12)}

# Lower-cased spellings met in OPP-115, MAPP, the benchmark CSVs and users' files.
ALIASES: dict[str, str] = {
    "first party": FIRST_PARTY,
    "first party collection": FIRST_PARTY,
    "first party collection and use": FIRST_PARTY,
    "first-party collection/use": FIRST_PARTY,
    "first_party_collection_use": FIRST_PARTY,
    "third party": THIRD_PARTY,
    "third party sharing": THIRD_PARTY,
    "third party sharing and collection": THIRD_PARTY,
    "third-party sharing/collection": THIRD_PARTY,
    "third_party_sharing_collection": THIRD_PARTY,
    "user choice": USER_CHOICE,
    "user choice and control": USER_CHOICE,
    "user_choice_control": USER_CHOICE,
    "user access": USER_ACCESS,
    "user access, edit, and deletion": USER_ACCESS,
    "user access edit and deletion": USER_ACCESS,
    "user_access_edit_and_deletion": USER_ACCESS,
    "data_retention": DATA_RETENTION,
    "data_security": DATA_SECURITY,
    "policy_change": POLICY_CHANGE,
    "do_not_track": DO_NOT_TRACK,
    "specific audiences": SPECIFIC_AUDIENCES,
    "international and specific audiences": SPECIFIC_AUDIENCES,
    "international_and_specific_audiences": SPECIFIC_AUDIENCES,
    "introductory": INTRODUCTORY,
    "introductory_generic": INTRODUCTORY,
    "generic": INTRODUCTORY,
    "practice_not_covered": NOT_COVERED,
    "contact": CONTACT,
    "privacy_contact_information": CONTACT,
}
_CANONICAL = {name.lower(): name for name in CATEGORIES + OTHER_TYPES} | ALIASES


def canonical(name: str) -> str:
    """Resolve a category name or alias to its canonical spelling; ValueError if unknown."""
    key = " ".join(str(name).strip().split()).lower()
    if key in _CANONICAL:
        return _CANONICAL[key]
    raise ValueError(f"unknown category {name!r}; expected one of {', '.join(CATEGORIES + OTHER_TYPES)}")


def get_view(name: str | LabelView) -> LabelView:
    """Return a label view by name ('opp115-10', 'opp115-12', or the shorthands '10', '12')."""
    if isinstance(name, LabelView):
        return name
    key = {"10": OPP115_10.name, "12": OPP115_12.name}.get(str(name), str(name))
    if key not in VIEWS:
        raise ValueError(f"unknown label view {name!r}; expected one of {', '.join(VIEWS)} (or 10, 12)")
    return VIEWS[key]


def view_of(labels: tuple[str, ...] | list[str]) -> LabelView:
    """The view whose labels are exactly `labels`, in order (e.g. a model's id2label)."""
    for view in VIEWS.values():
        if view.labels == tuple(labels):
            return view
    raise ValueError(f"no label view has exactly the labels {list(labels)}")


def other_type_label(other_type: str | None) -> str | None:
    """12-label name for an OPP-115 "Other" annotation with this "Other Type" value.

    The fourth value, "Other", has no label in the 12-label view (as in the published split).
    """
    return other_type if other_type in OTHER_TYPES else None


def to_view(labels: set[str] | frozenset[str], view: LabelView | str) -> frozenset[str]:
    """Map labels into a view: the three "Other" subtypes collapse to "Other" in the 10-label view.

    The reverse (10 → 12) is not a mapping, since "Other" does not say which subtype it was;
    it raises ValueError.
    """
    view = get_view(view)
    out = set()
    for label in labels:
        label = canonical(label)
        if label in view.labels:
            out.add(label)
        elif label in OTHER_TYPES and OTHER in view.labels:
            out.add(OTHER)
        else:
            raise ValueError(f"label {label!r} has no counterpart in the {view.name} view")
    return frozenset(out)


def names_of(decisions: Iterable[Iterable[bool]], labels: Sequence[str]) -> list[list[str]]:
    """Per row of yes/no decisions (one per label, in `labels` order), the names decided yes:
    how every model turns thresholded probabilities into label names."""
    return [[label for label, yes in zip(labels, row) if yes] for row in decisions]
