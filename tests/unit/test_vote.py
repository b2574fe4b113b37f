"""One plate from several frames of a vehicle: the vote per character, weighted by confidence."""

from __future__ import annotations

import pytest

from plate_ocr.vote import Ballot, vote


def ballot(frame: int, text: str, confidence: float, fmt: str = "7char", chars=()) -> Ballot:
    return Ballot(frame, text, confidence, fmt, tuple(chars))


@pytest.mark.parametrize(
    ("ballots", "plate", "agreeing", "best_frame"),
    [
        ([ballot(0, "12가3456", 0.9)], "12가3456", 1, 0),
        (
            [ballot(0, "12가3456", 0.7), ballot(1, "12가3456", 0.8), ballot(2, "12가3458", 0.6)],
            "12가3456",
            2,
            1,
        ),
        (
            # each frame gets another character wrong; the vote puts the right ones together
            [ballot(0, "12가3458", 0.5), ballot(1, "17가3456", 0.5), ballot(2, "12나3456", 0.5)],
            "12가3456",
            0,
            0,
        ),
        (
            # one confident frame outweighs two unsure ones
            [ballot(0, "12가3456", 0.95), ballot(1, "12가3458", 0.2), ballot(2, "12가3458", 0.2)],
            "12가3456",
            1,
            0,
        ),
        (
            # another format (an 8-character misread) does not vote per position
            [ballot(0, "12가3456", 0.6), ballot(1, "123가4567", 0.3, "8char")],
            "12가3456",
            1,
            0,
        ),
        (
            # the format with the most confidence behind it votes
            [
                ballot(0, "12가3456", 0.3),
                ballot(1, "123가4567", 0.8, "8char"),
                ballot(2, "123가4567", 0.7, "8char"),
            ],
            "123가4567",
            2,
            1,
        ),
    ],
    ids=[
        "one-frame",
        "majority",
        "each-wrong-somewhere",
        "confidence-outweighs-count",
        "other-format-stays-out",
        "heaviest-format-wins",
    ],
)
def test_the_vote_picks_each_character_by_its_weighted_votes(ballots, plate, agreeing, best_frame):
    voted = vote(ballots)

    assert voted is not None
    assert (voted.plate_number, voted.agreeing, voted.best_frame) == (plate, agreeing, best_frame)


def test_character_probabilities_weigh_each_position():
    # GIVEN two frames: the first unsure of its last digit, the second unsure of its syllable
    ballots = [
        ballot(0, "12가3458", 0.6, chars=[0.99] * 6 + [0.3]),
        ballot(1, "12나3456", 0.6, chars=[0.99, 0.99, 0.3] + [0.99] * 4),
    ]

    # THEN each position goes to the frame that was sure of it
    assert vote(ballots).plate_number == "12가3456"


def test_support_is_the_share_of_the_weight_behind_each_character():
    voted = vote([ballot(0, "12가3456", 0.6), ballot(1, "12가3458", 0.2)])

    assert voted.support == (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.75)


@pytest.mark.parametrize(
    ("ballots", "expected"),
    [
        ([ballot(0, "12가3456", 0.8)], 0.8),
        ([ballot(0, "12가3456", 0.8), ballot(1, "12가3456", 0.5)], 0.9),
        ([ballot(0, "12가3456", 0.6), ballot(1, "12가3458", 0.2)], 0.45),
        (
            [ballot(0, "12가3458", 0.5), ballot(1, "17가3456", 0.5), ballot(2, "12나3456", 0.5)],
            0.3333,
        ),
    ],
    ids=["one-frame", "two-agree", "one-disagrees", "none-read-it-exactly"],
)
def test_the_votes_confidence_grows_with_agreement_and_falls_with_dissent(ballots, expected):
    assert vote(ballots).confidence == pytest.approx(expected, abs=1e-4)


def test_characters_that_make_no_valid_plate_fall_back_to_the_most_agreeing_valid_reading():
    # GIVEN readings whose winning characters make no valid plate (a military syllable never
    # carries a region)
    ballots = [
        ballot(0, "서울12바3456", 0.5, "regional"),
        ballot(1, "서울12국3456", 0.3, "regional"),
        ballot(2, "서울12국3456", 0.3, "regional"),
    ]

    voted = vote(ballots)

    assert voted.plate_number == "서울12바3456"


def test_no_ballots_no_vote():
    assert vote([]) is None
