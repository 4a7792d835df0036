"""``nplint.records.record`` behaves as the ``dataclasses.dataclass`` it replaces.

Every case declares one class body twice, once with each decorator, and holds the record
to what the dataclass twin does: construction (and its errors), comparison, hashing,
order, repr, docstring, signature, ``replace``, ``fields``, pickling, copying, frozen-ness
and slots. The options are the combinations nplint's modules use.
"""

from __future__ import annotations

import builtins
import copy
import dataclasses
import inspect
import pickle
import re
import types
import typing
from collections.abc import Callable
from dataclasses import FrozenInstanceError, field
from pathlib import Path

# ClassVar is named by the string annotations below: dataclasses looks it up in this module.
from typing import Any, ClassVar  # noqa: F401

import pytest

from nplint.records import record

OPTIONS: dict[str, dict[str, bool]] = {
    "frozen": {"frozen": True, "slots": True},
    "frozen-identity": {"frozen": True, "slots": True, "eq": False},
    "frozen-ordered": {"frozen": True, "slots": True, "order": True},
    "mutable": {"slots": True},
    "plain": {},
}


def _post_init(self: Any) -> None:
    object.__setattr__(self, "derived", self.name.upper())


def _str(self: Any) -> str:
    return f"<{self.x}>"


# Each shape: annotations, class attributes (defaults, fields, methods), and calls to make.
SHAPES: dict[str, tuple[dict[str, str], dict[str, Any], list[tuple[tuple[Any, ...], dict[str, Any]]]]] = {
    "fields": (
        {
            "x": "int",
            "y": "str",
            "items": "list[int]",
            "note": "str",
            "memo": "dict[str, int]",
            "flag": "bool",
            "label": "ClassVar[str]",
        },
        {
            "y": "a",
            "items": field(default_factory=list),
            "note": field(default="", compare=False),
            "memo": field(default_factory=dict, compare=False, repr=False),
            "flag": field(default=False, kw_only=True),
            "label": "shared",
            "__str__": _str,
        },
        [
            ((1,), {}),
            ((1, "b"), {}),
            ((1, "a", [2]), {"flag": True}),
            ((2,), {"note": "n", "memo": {"k": 1}}),
            ((), {"x": 1, "y": "z"}),
            ((), {}),
            ((1, "a", [], "n", {}, True), {}),
            ((1,), {"nope": 1}),
            ((1,), {"x": 2}),
            ((1,), {"label": "no"}),
        ],
    ),
    "post-init": (
        {"name": "str", "derived": "str"},
        {"derived": field(init=False), "__post_init__": _post_init},
        [(("ab",), {}), (("cd",), {}), ((), {"name": "ab"}), (("ab", "AB"), {}), ((), {})],
    ),
    "hidden": (
        {"kind": "str", "span": "int | None"},
        {
            "__doc__": "A documented shape.",
            "span": field(default=None, init=False, repr=False, compare=False),
        },
        [(("a",), {}), (("b",), {}), (("a",), {"span": 3})],
    ),
    "empty": ({}, {}, [((), {}), ((1,), {})]),
}


def _declare(decorate: Callable[..., Any], shape: str, options: str, twin: str) -> type:
    annotations, attributes, _ = SHAPES[shape]
    name = f"{shape.replace('-', '_')}__{options.replace('-', '_')}__{twin}"
    namespace: dict[str, Any] = {"__module__": __name__, "__qualname__": name}
    namespace["__annotations__"] = dict(annotations)
    namespace.update((key, copy.copy(value)) for key, value in attributes.items())
    cls = decorate(**OPTIONS[options])(type(name, (), namespace))
    # Module level, so that pickle finds the class by its name.
    globals()[name] = cls
    return cls


TWINS = {
    (shape, options): (
        _declare(dataclasses.dataclass, shape, options, "dataclass"),
        _declare(record, shape, options, "record"),
    )
    for shape in SHAPES
    for options in OPTIONS
}
CASES = sorted(TWINS)


def _same(text: str) -> str:
    """Text about a twin, with the twin's own name made common."""
    return re.sub(r"__(dataclass|record)\b", "__twin", text)


def _outcome(cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, Any]:
    try:
        made = cls(*args, **kwargs)
    except TypeError as error:
        return "error", _same(str(error))
    return "made", made


def _values(obj: Any) -> tuple[Any, ...]:
    return tuple(getattr(obj, f.name) for f in dataclasses.fields(obj))


def _made(shape: str, options: str) -> tuple[list[Any], list[Any]]:
    dataclass_twin, record_twin = TWINS[shape, options]
    made: tuple[list[Any], list[Any]] = ([], [])
    for args, kwargs in SHAPES[shape][2]:
        for cls, into in zip((dataclass_twin, record_twin), made, strict=True):
            kind, value = _outcome(cls, copy.deepcopy(args), copy.deepcopy(kwargs))
            if kind == "made":
                into.append(value)
    return made


@pytest.mark.parametrize(("shape", "options"), CASES)
def test_construction_and_its_errors(shape: str, options: str) -> None:
    dataclass_twin, record_twin = TWINS[shape, options]
    for args, kwargs in SHAPES[shape][2]:
        expected = _outcome(dataclass_twin, copy.deepcopy(args), copy.deepcopy(kwargs))
        got = _outcome(record_twin, copy.deepcopy(args), copy.deepcopy(kwargs))
        assert got[0] == expected[0], (args, kwargs)
        if got[0] == "error":
            assert got[1] == expected[1]
        else:
            assert _values(got[1]) == _values(expected[1])


def _field_options(f: dataclasses.Field[Any]) -> tuple[object, ...]:
    return (f.name, f.type, f.init, f.repr, f.compare, f.hash, f.kw_only, f.default, f.default_factory)


@pytest.mark.parametrize(("shape", "options"), CASES)
def test_class_surface(shape: str, options: str) -> None:
    dataclass_twin, record_twin = TWINS[shape, options]
    assert _same(str(inspect.signature(record_twin))) == _same(str(inspect.signature(dataclass_twin)))
    assert _same(record_twin.__doc__ or "") == _same(dataclass_twin.__doc__ or "")
    assert record_twin.__match_args__ == dataclass_twin.__match_args__  # type: ignore[attr-defined]
    assert list(map(_field_options, dataclasses.fields(record_twin))) == list(
        map(_field_options, dataclasses.fields(dataclass_twin))
    )
    assert dataclasses.is_dataclass(record_twin)
    # The ClassVar is no field, and stays a class attribute.
    assert "label" not in [f.name for f in dataclasses.fields(record_twin)]
    assert record_twin.__dict__.get("__slots__") == dataclass_twin.__dict__.get("__slots__")
    assert ("__dict__" in dir(record_twin)) == ("__dict__" in dir(dataclass_twin))
    assert (record_twin.__hash__ is None) == (dataclass_twin.__hash__ is None)
    for name in ("__eq__", "__lt__", "__le__", "__gt__", "__ge__", "__repr__", "__str__"):
        assert (getattr(record_twin, name) is getattr(object, name, None)) == (
            getattr(dataclass_twin, name) is getattr(object, name, None)
        ), name
    assert record_twin.__init__.__qualname__ == f"{record_twin.__qualname__}.__init__"


@pytest.mark.parametrize(("shape", "options"), CASES)
def test_comparison_hash_order_repr(shape: str, options: str) -> None:
    expected, got = _made(shape, options)
    assert len(got) == len(expected) > 0
    pairs = [(a, b) for a in range(len(got)) for b in range(len(got))]
    for a, b in pairs:
        assert (got[a] == got[b]) == (expected[a] == expected[b]), (a, b)
        assert (got[a] != got[b]) == (expected[a] != expected[b]), (a, b)
        for op in ("__lt__", "__le__", "__gt__", "__ge__"):
            assert getattr(got[a], op)(got[b]) == getattr(expected[a], op)(expected[b]), (op, a, b)
        # Another class, even the twin: not comparable, as dataclasses has it.
        assert got[a].__eq__(expected[b]) is NotImplemented
    for made, twin in zip(got, expected, strict=True):
        assert _same(repr(made)) == _same(repr(twin))
        assert _same(str(made)) == _same(str(twin))
        assert (made == 1) == (twin == 1)
        if shape == "fields":
            assert made.label == twin.label == "shared"
        if OPTIONS[options].get("order"):
            with pytest.raises(TypeError, match="not supported between instances"):
                _ = made < 1
        assert (type(made).__hash__ is None) == (type(twin).__hash__ is None)
        if OPTIONS[options].get("eq", True):
            assert _hash(made) == _hash(twin)
        else:
            assert hash(made) == object.__hash__(made)


def _hash(obj: object) -> tuple[str, object]:
    try:
        return "hash", hash(obj)
    except TypeError as error:
        return "error", _same(str(error))


@pytest.mark.parametrize(("shape", "options"), CASES)
def test_replace_pickle_copy(shape: str, options: str) -> None:
    expected, got = _made(shape, options)
    for made, twin in zip(got, expected, strict=True):
        names = [f.name for f in dataclasses.fields(made) if f.init]
        if names:
            changes = {names[0]: getattr(made, names[0])}
            replaced = dataclasses.replace(made, **changes)
            assert _values(replaced) == _values(dataclasses.replace(twin, **changes))
        assert dataclasses.asdict(made) == dataclasses.asdict(twin)
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
            try:
                expected_copy = pickle.loads(pickle.dumps(twin, protocol))
            except TypeError as error:
                with pytest.raises(TypeError) as raised:
                    pickle.dumps(made, protocol)
                assert _same(str(raised.value)) == _same(str(error))
                continue
            round_trip = pickle.loads(pickle.dumps(made, protocol))
            assert type(round_trip) is type(made)
            assert _values(round_trip) == _values(made) == _values(expected_copy)
        for duplicate in (copy.copy, copy.deepcopy):
            duplicated = duplicate(made)
            assert type(duplicated) is type(made)
            assert duplicated is not made
            assert _values(duplicated) == _values(duplicate(twin))


@pytest.mark.parametrize(("shape", "options"), CASES)
def test_assignment_and_deletion(shape: str, options: str) -> None:
    expected, got = _made(shape, options)
    frozen = OPTIONS[options].get("frozen", False)
    for made, twin in zip(got, expected, strict=True):
        for f in dataclasses.fields(made):
            if frozen:
                with pytest.raises(FrozenInstanceError, match=f"cannot assign to field '{f.name}'"):
                    setattr(made, f.name, 1)
                with pytest.raises(FrozenInstanceError, match=f"cannot delete field '{f.name}'"):
                    delattr(made, f.name)
            else:
                setattr(made, f.name, 1)
                setattr(twin, f.name, 1)
                assert getattr(made, f.name) == 1
        assert _values(made) == _values(twin)
        if OPTIONS[options].get("slots"):
            assert not hasattr(made, "__dict__")
            with pytest.raises((AttributeError, TypeError)):
                made.not_a_field = 1


# Inheritance as nplint's object model has it: a base with a keyword-only field and a cache
# slot, subclasses adding defaulted fields.
def _hierarchy(decorate: Callable[..., Any], twin: str) -> tuple[type, type]:
    base_name, sub_name = f"Base__{twin}", f"Sub__{twin}"
    base_namespace = {
        "__module__": __name__,
        "__qualname__": base_name,
        "__annotations__": {"kind": "str", "partial": "bool", "span": "int | None"},
        "partial": field(default=False, kw_only=True),
        "span": field(default=None, init=False, repr=False, compare=False),
    }
    base = decorate(frozen=True, slots=True, eq=False)(type(base_name, (), base_namespace))
    sub_namespace = {
        "__module__": __name__,
        "__qualname__": sub_name,
        "__annotations__": {"defined": "bool", "labels": "dict[str, str]"},
        "defined": True,
        "labels": field(default_factory=dict),
    }
    sub = decorate(frozen=True, slots=True, eq=False)(type(sub_name, (base,), sub_namespace))
    globals()[base_name], globals()[sub_name] = base, sub
    return base, sub


HIERARCHIES = (_hierarchy(dataclasses.dataclass, "dataclass"), _hierarchy(record, "record"))


def test_inheritance() -> None:
    (_, dataclass_sub), (_, record_sub) = HIERARCHIES
    assert _same(str(inspect.signature(record_sub))) == _same(str(inspect.signature(dataclass_sub)))
    assert record_sub.__match_args__ == dataclass_sub.__match_args__  # type: ignore[attr-defined]
    assert record_sub.__slots__ == dataclass_sub.__slots__  # type: ignore[attr-defined]
    made = record_sub("Namespace", False, {"a": "b"}, partial=True)
    twin = dataclass_sub("Namespace", False, {"a": "b"}, partial=True)
    assert _values(made) == _values(twin)
    assert _same(repr(made)) == _same(repr(twin))
    assert made != record_sub("Namespace", False, {"a": "b"}, partial=True)
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        assert _values(pickle.loads(pickle.dumps(made, protocol))) == _values(twin)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.kind = "Pod"
    # The cache slot is filled behind the frozen front, as the object model does.
    object.__setattr__(made, "span", 7)
    assert made.span == 7
    assert dataclasses.replace(made, kind="Pod").span is None


def test_frozen_and_mutable_do_not_mix_along_a_hierarchy() -> None:
    (dataclass_base, _), (record_base, _) = HIERARCHIES
    for decorate, base in ((dataclasses.dataclass, dataclass_base), (record, record_base)):
        with pytest.raises(TypeError, match="cannot inherit non-frozen dataclass from a frozen one"):
            decorate(slots=True)(type("Mutable", (base,), {"__annotations__": {}}))
    mutable = record(slots=True)(type("MutableBase", (), {"__annotations__": {"x": "int"}}))
    with pytest.raises(TypeError, match="cannot inherit frozen dataclass from a non-frozen one"):
        record(frozen=True)(type("Frozen", (mutable,), {"__annotations__": {}}))


def test_invalid_declarations_fail_as_dataclasses_do() -> None:
    with pytest.raises(ValueError, match="eq must be true if order is true"):
        record(order=True, eq=False)(type("Unordered", (), {"__annotations__": {"x": "int"}}))
    for decorate in (dataclasses.dataclass, record):
        with pytest.raises(TypeError, match="non-default argument 'y' follows default argument"):
            decorate(type("Backwards", (), {"__annotations__": {"x": "int", "y": "int"}, "x": 1}))
        with pytest.raises(TypeError, match="Cannot overwrite attribute __lt__"):
            ordered = {"__annotations__": {}, "__lt__": lambda self, other: True}
            decorate(order=True)(type("Both", (), ordered))
        with pytest.raises(TypeError, match="Cannot overwrite attribute __setattr__"):
            assigning = {"__annotations__": {}, "__setattr__": object.__setattr__}
            decorate(frozen=True)(type("Both", (), assigning))


def test_initvar_is_refused() -> None:
    namespace = {"__annotations__": {"x": "int", "seed": dataclasses.InitVar[int]}}
    with pytest.raises(TypeError, match="records do not support InitVar fields"):
        record(type("Seeded", (), namespace))


def test_own_methods_are_kept() -> None:
    def equal(self: object, other: object) -> bool:
        return True

    namespace = {"__annotations__": {"x": "int"}, "__eq__": equal, "__hash__": lambda self: 5}
    cls = record(frozen=True, slots=True)(type("Own", (), namespace))
    assert cls(1) == cls(2)
    assert hash(cls(1)) == 5
    assert cls.__eq__ is equal


def test_one_exec_per_class_when_first_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """The point of records: dataclasses compiles a method per exec at import; a record compiles
    all of a class's methods in one exec, when the class is first used."""
    calls: list[object] = []
    real_exec = builtins.exec

    def counting_exec(*args: Any, **kwargs: Any) -> None:
        calls.append(args[0])
        real_exec(*args, **kwargs)

    monkeypatch.setattr(builtins, "exec", counting_exec)
    annotations, attributes, _ = SHAPES["fields"]
    namespace = {"__module__": __name__, "__annotations__": dict(annotations), **attributes}
    cls = record(frozen=True, slots=True, order=True)(type("Counted", (), namespace))
    assert calls == []
    made = cls(1, "a", ())
    assert len(calls) == 1
    generated = ("__init__", "__eq__", "__hash__", "__lt__", "__le__", "__gt__", "__ge__")
    for name in generated:
        assert isinstance(cls.__dict__[name], types.FunctionType), name
        assert cls.__dict__[name].__qualname__ == f"Counted.{name}"
    assert made == cls(1, "a", ()) and made < cls(2) and hash(made) == hash(cls(1, "a", ()))
    assert len(calls) == 1
    calls.clear()
    dataclasses.dataclass(frozen=True, slots=True, order=True)(type("Counted", (), dict(namespace)))
    assert len(calls) == len(generated) + 3  # and __repr__, __setattr__, __delattr__


def _fresh(decorate: Callable[..., Any], annotations: dict[str, str], **options: bool) -> Any:
    defaults = {"y": "a"} if "y" in annotations else {}
    namespace = {"__module__": __name__, "__annotations__": dict(annotations), **defaults}
    return decorate(**options)(type("Fresh", (), namespace))


def test_what_a_class_shows_before_its_first_use() -> None:
    annotations = {"x": "int", "y": "str"}
    for options in OPTIONS.values():
        twin = _fresh(dataclasses.dataclass, annotations, **options)
        assert (
            _fresh(record, annotations, **options).__doc__
            == twin.__doc__
            == "Fresh(x: 'int', y: 'str' = 'a')"
        )
        assert str(inspect.signature(_fresh(record, annotations, **options))) == str(inspect.signature(twin))
        assert (
            _fresh(record, annotations, **options).__init__.__annotations__ == twin.__init__.__annotations__
        )
        assert _fresh(record, annotations, **options)(1).__doc__ == twin.__doc__


def test_first_use_through_a_subclass_or_without_init() -> None:
    base = _fresh(record, {"x": "int"}, frozen=True, slots=True)

    class Child(base):  # type: ignore[misc,valid-type]
        def __init__(self, x: int) -> None:
            super().__init__(x * 2)

    assert Child(2).x == 4
    assert base(4) != Child(2)  # another class

    explicit = _fresh(record, {"x": "int"}, slots=True)
    made = explicit.__new__(explicit)
    explicit.__init__(made, 3)
    assert made == explicit(3)

    # Unpickling and copying make instances without __init__: comparing or hashing them first
    # compiles the class's methods just as well.
    for options in OPTIONS.values():
        cls = _fresh(record, {"x": "int"}, **options)
        twin = _fresh(dataclasses.dataclass, {"x": "int"}, **options)
        bare = cls.__new__(cls)
        object.__setattr__(bare, "x", 1)
        if options.get("eq", True):
            assert _hash(bare) == _hash(twin(1))
            assert bare == cls(1)
        else:
            assert hash(bare) == object.__hash__(bare)
            assert bare != cls(1)
        if options.get("order"):
            assert bare < cls(2)

    # A record's subclass used first, its base after.
    fresh_base, fresh_sub = _hierarchy(record, "fresh")
    assert _values(fresh_sub("k", labels={"a": "b"})) == ("k", False, None, True, {"a": "b"})
    assert _values(fresh_base("k", partial=True)) == ("k", True, None)


def test_record_is_a_dataclass_transform() -> None:
    # What lets mypy check constructors, frozen-ness and replace() of records, both spellings.
    overloads = typing.get_overloads(record)
    assert len(overloads) == 2
    for overload in overloads:
        assert overload.__dataclass_transform__["field_specifiers"] == (dataclasses.field, dataclasses.Field)  # type: ignore[attr-defined]


DECORATOR = re.compile(r"^\s*@(?:dataclasses\.)?dataclass\b")


def test_no_dataclass_decorator_in_nplint() -> None:
    package = Path(__file__).resolve().parent.parent / "nplint"
    offenders = [
        f"{path.relative_to(package.parent)}:{number}"
        for path in sorted(package.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if DECORATOR.match(line)
    ]
    assert not offenders, (
        "Declare nplint's classes with @record(...) from nplint.records (same options as "
        "@dataclass): dataclasses compiles every generated method with its own exec, which on "
        "Python 3.11 is most of nplint's import time. Found @dataclass at: " + ", ".join(offenders)
    )
