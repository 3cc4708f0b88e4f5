"""`_light`: the start-up path's `NamedTuple` and `StrEnum` behave as typing.NamedTuple and enum.StrEnum do
where the client and its hosts use them (arguments, defaults, errors, _replace, copies, pickling, identity)."""

from __future__ import annotations

import copy
import pickle

import orjson
import pytest

from optin.client import Answer, ConsentState, FeedbackOptions, Status
from optin.client._consent import Prompt
from optin.client._light import NamedTuple


class Point(NamedTuple):
    x: int
    y: int = 2

    @property
    def total(self) -> int:
        return self.x + self.y


def test_named_tuple_binds_arguments_as_a_function_does() -> None:
    assert Point(1) == (1, 2) and Point(1, 3) == Point(x=1, y=3) == Point(y=3, x=1)
    assert Point(1).total == 3 and isinstance(Point(1), tuple) and hash(Point(1)) == hash((1, 2))
    with pytest.raises(TypeError, match="missing required argument: 'x'"):
        Point()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="takes 2 positional arguments but 3 were given"):
        Point(1, 2, 3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected or repeated argument 'x'"):
        Point(1, x=5)  # type: ignore[misc]
    with pytest.raises(TypeError, match="unexpected or repeated argument 'z'"):
        Point(1, z=3)  # type: ignore[call-arg]


def test_named_tuple_has_the_named_tuple_helpers() -> None:
    p = Point(1)
    assert Point._fields == ("x", "y") and Point._field_defaults == {"y": 2}
    assert p._replace(y=5) == Point(1, 5) and p._asdict() == {"x": 1, "y": 2} and Point._make([4, 5]) == (4, 5)
    assert repr(p) == "Point(x=1, y=2)" and type(p._replace(x=0)) is Point
    assert pickle.loads(pickle.dumps(p)) == p and copy.deepcopy(p) == p
    match p:
        case Point(x, y):
            assert (x, y) == (1, 2)
    state = ConsentState(first_run=7)._replace(status=Status.ON)
    assert state.is_on and state.first_run == 7 and FeedbackOptions().period_s == 86400


def test_str_enum_members_are_one_object_each() -> None:
    assert Status("on") is Status.ON and Answer("".join(["ye", "s"])) is Answer.YES  # not the interned literal
    assert {"on": 1}[Status.ON] == 1 and Status.ON.value == "on" and Status.ON.name == "ON" and str(Status.ON) == "on"
    assert (
        f"{Answer.NEVER}" == "never" and list(Status) == [Status.UNDECIDED, Status.ON, Status.OFF] and len(Answer) == 4
    )
    assert repr(Answer.NO) == "<Answer.NO: 'no'>"
    assert copy.copy(Answer.NO) is Answer.NO and copy.deepcopy(Status.OFF) is Status.OFF
    assert pickle.loads(pickle.dumps(Answer.DISMISSED)) is Answer.DISMISSED
    assert orjson.dumps([Status.OFF, Answer.YES]) == b'["off","yes"]'
    prompt = Prompt(3, Answer("no"))
    assert prompt.answer is Answer.NO and pickle.loads(pickle.dumps(prompt)).answer is Answer.NO
    for bad in ("maybe", "ON", None, ["on"]):
        with pytest.raises(ValueError, match="is not a valid Status"):
            Status(bad)  # type: ignore[arg-type]
