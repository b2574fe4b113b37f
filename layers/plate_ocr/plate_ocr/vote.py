"""One plate from several photos of the same vehicle: a vote per character, weighted by confidence.

Gate cameras send bursts: a frame may be blurred, cut off or glared where another is clean. Each
frame's best reading is a ballot. Only readings of the same layout can vote character by character,
so the ballots are grouped by format and length and the group with the most confidence behind it
votes. At each position every ballot of the group adds its weight to the character it read: its
calibrated confidence times its probability for that character. The winning characters make the
plate; if they do not make a valid plate together, the valid reading that agrees most with the vote
wins.

The vote's confidence is the chance that at least one of the frames that read exactly the voted
plate is right (``1 - prod(1 - confidence)``), times the weakest position's agreement (the share of
the weight that chose the winning character); when no frame read exactly the voted plate (each got
a different character wrong), it is the best frame's confidence times that agreement. Frames of one
burst err together (the same glare, the same angle), so this overstates the chance a little for
bursts that agree on a wrong plate: ``scripts/vote_bursts.py`` measures how often a voted plate of
each confidence is right.

Pure: no I/O, no third-party imports.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from plate_ocr import grammar

#: A ballot's weight never falls to zero, so frames all read at 0 confidence still count as votes.
MIN_WEIGHT = 1e-3


@dataclass(frozen=True)
class Ballot:
    """One frame's reading: its plate, calibrated confidence, format and character probabilities
    (aligned with ``plate_number``; empty when unknown)."""

    frame: int
    plate_number: str
    confidence: float
    format: str | None
    char_confidences: tuple[float, ...] = ()

    def weight(self, position: int) -> float:
        """What this ballot adds to the character it read at ``position``."""
        char = (
            self.char_confidences[position]
            if len(self.char_confidences) == len(self.plate_number)
            else 1.0
        )
        return max(self.confidence * char, MIN_WEIGHT)


@dataclass(frozen=True)
class Vote:
    """The voted plate, how sure the vote is, and how it came about.

    ``support`` holds, per character, the share of the group's weight behind the winning character;
    ``voters`` the frames whose reading had the voted layout, ``agreeing`` those that read exactly
    the voted plate; ``best_frame`` the frame whose reading agrees best (its box and class stand for
    the plate's).
    """

    plate_number: str
    confidence: float
    format: str | None
    support: tuple[float, ...]
    voters: int
    agreeing: int
    best_frame: int


def vote(ballots: Sequence[Ballot]) -> Vote | None:
    """The plate voted from the frames' readings; None when no frame read a plate."""
    if not ballots:
        return None
    groups: dict[tuple[str | None, int], list[Ballot]] = defaultdict(list)
    for ballot in ballots:
        groups[(ballot.format, len(ballot.plate_number))].append(ballot)
    group = max(
        groups.values(),
        key=lambda g: (sum(b.confidence for b in g), len(g), -min(b.frame for b in g)),
    )
    length = len(group[0].plate_number)
    scores: list[dict[str, float]] = [defaultdict(float) for _ in range(length)]
    for ballot in group:
        for i, char in enumerate(ballot.plate_number):
            scores[i][char] += ballot.weight(i)
    leader = max(group, key=lambda b: b.confidence)
    text = "".join(_winner(s, leader.plate_number[i]) for i, s in enumerate(scores))
    if not grammar.parse(text).valid:
        valid = [b for b in group if grammar.parse(b.plate_number).valid] or group
        text = max(
            valid,
            key=lambda b: (sum(scores[i][c] for i, c in enumerate(b.plate_number)), b.confidence),
        ).plate_number
    support = tuple(scores[i][c] / sum(scores[i].values()) for i, c in enumerate(text))
    exact = [b for b in group if b.plate_number == text]
    best = max(exact, key=lambda b: b.confidence) if exact else leader
    if exact:
        chance = 1.0 - math.prod(1.0 - min(max(b.confidence, 0.0), 1.0) for b in exact)
    else:
        chance = leader.confidence
    return Vote(
        plate_number=text,
        confidence=round(chance * min(support), 4),
        format=group[0].format,
        support=tuple(round(s, 4) for s in support),
        voters=len(group),
        agreeing=len(exact),
        best_frame=best.frame,
    )


def _winner(scores: dict[str, float], leaders: str) -> str:
    """The character with the most weight; a tie goes to the most confident frame's."""
    return max(scores, key=lambda c: (scores[c], c == leaders))
