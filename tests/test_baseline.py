import numpy as np
import pytest

from privacy_clauses.data.records import Segment, label_matrix
from privacy_clauses.labels import FIRST_PARTY, OPP115_10, THIRD_PARTY
from privacy_clauses.model import load_model
from privacy_clauses.model.baseline import TfidfBaseline

COLLECT = ["We collect your email address.", "We collect your name and address.", "We collect cookies."] * 3
SHARE = ["We share data with advertisers.", "We share your data with partners.", "Partners receive data we share."] * 3


def fitted(mask=None) -> tuple[TfidfBaseline, list[str]]:
    segments = [Segment("d", i, t, labels={FIRST_PARTY}) for i, t in enumerate(COLLECT)]
    segments += [Segment("d", 100 + i, t, labels={THIRD_PARTY}) for i, t in enumerate(SHARE)]
    targets, full_mask = label_matrix(segments, OPP115_10)
    texts = [s.text for s in segments]
    return TfidfBaseline(OPP115_10, C=10).fit(texts, targets, full_mask if mask is None else mask), texts


def test_fit_predict_separates_the_two_practices():
    model, _ = fitted()
    assert model.predict(["We collect your email.", "We share with advertisers."]) == [[FIRST_PARTY], [THIRD_PARTY]]
    proba = model.predict_proba(["We collect your email."])
    assert proba.shape == (1, len(OPP115_10)) and ((proba >= 0) & (proba <= 1)).all()


def test_save_load_round_trip_gives_identical_probabilities(tmp_path):
    model, texts = fitted()
    model.thresholds = np.linspace(0.3, 0.7, len(OPP115_10))
    model.save_pretrained(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded, TfidfBaseline)
    np.testing.assert_array_equal(loaded.predict_proba(texts), model.predict_proba(texts))
    np.testing.assert_array_equal(loaded.thresholds, model.thresholds)
    assert not list(tmp_path.glob("m/*.pkl"))


def test_masked_categories_are_left_out_of_their_regression():
    # Mark every third-party target as unannotated: the model must not learn "never third party".
    segments = [Segment("d", i, t, labels={FIRST_PARTY}) for i, t in enumerate(COLLECT + SHARE)]
    targets, mask = label_matrix(segments, OPP115_10)
    mask[:, OPP115_10.index(THIRD_PARTY)] = 0
    model = TfidfBaseline(OPP115_10).fit([s.text for s in segments], targets, mask)
    assert not model.coef_[OPP115_10.index(THIRD_PARTY)].any()  # no annotated rows: nothing learnt


def test_parameters_are_validated():
    with pytest.raises(ValueError, match="C must be positive"):
        TfidfBaseline(C=0)
    with pytest.raises(ValueError, match="class_weight"):
        TfidfBaseline(class_weight="auto")
    with pytest.raises(ValueError, match="targets must have shape"):
        TfidfBaseline().fit(["a", "b"], np.zeros((2, 3)))
    with pytest.raises(RuntimeError, match="not fitted"):
        TfidfBaseline().predict_proba(["a"])
