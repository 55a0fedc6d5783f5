"""Who may review a camera event and when (qhse.domain.vision_review) without a database."""

from __future__ import annotations

import pytest

from qhse.domain import access
from qhse.domain.vision_review import DECISIONS, ReviewError, check_decision, check_review

SEC = access.scope_for(user_id=1, username="sec", role="security", all_sites=False, site_ids=[1])
WORKER = access.scope_for(user_id=2, username="w", role="worker", all_sites=False, site_ids=[1])


def test_decisions_and_roles():
    assert DECISIONS == ("confirmed", "dismissed", "false_positive")
    check_decision("confirmed", SEC)
    with pytest.raises(ReviewError, match="unknown decision 'maybe'"):
        check_decision("maybe", SEC)
    with pytest.raises(access.AccessDenied, match="may not review camera events"):
        check_decision("confirmed", WORKER)


def test_only_new_events_in_scope():
    check_review(5, 1, "new", SEC)
    with pytest.raises(ReviewError, match="no camera event #5"):
        check_review(5, 2, "new", SEC)  # another site reads as missing
    with pytest.raises(ReviewError, match="no camera event #5"):
        check_review(5, None, None, SEC)
    with pytest.raises(ReviewError, match=r"already reviewed \(false positive\)"):
        check_review(5, 1, "false_positive", SEC)
