"""Records: nplint's value classes, declared like dataclasses and cheap to import.

``@record(frozen=True, slots=True)`` means what ``@dataclass(frozen=True, slots=True)`` means.
It exists because importing nplint declares about 160 such classes, and on Python 3.11
``dataclasses`` compiles every generated method with its own ``exec`` (750 of them): that was
most of nplint's import time, which is most of a run on a small repository.

A record lets :func:`dataclasses.dataclass` do the field processing, with every method
generation switched off (so ``__dataclass_fields__``, :func:`dataclasses.fields`,
:func:`dataclasses.replace`, :func:`dataclasses.asdict` and ``__match_args__`` are exactly
the dataclass ones), then adds the methods the dataclass would have generated:

- the hot ones (``__init__``, ``__eq__``, ``__hash__``, the order methods), generated for the
  class as dataclasses generates them, but all of a class's in one ``exec``, and only when
  the class is first used (a run uses some of nplint's records, never all);
- the others (``__repr__``, the frozen ``__setattr__``/``__delattr__``, the
  ``__getstate__``/``__setstate__`` that pickling a frozen slotted class needs), shared by all
  records: they read the class's fields when called.

The differences one can see: ``__dataclass_params__`` describes the call records make to
dataclasses (no generated methods), not the options given to ``record``; until a class is
first used, its ``__dict__`` holds placeholders for the generated methods (any lookup of
one, ``inspect.signature`` included, replaces them with the functions); the docstring of a
class that has none is made when first read.
"""

from __future__ import annotations

import _thread
import abc
import dataclasses
import inspect
import sys
from collections.abc import Callable
from typing import Any, TypeVar, dataclass_transform, overload

__all__ = ["record"]

_T = TypeVar("_T")

_MISSING: Any = dataclasses.MISSING


class _Factory:
    """The default an ``__init__`` parameter has when its field has a ``default_factory``."""

    __slots__ = ()

    def __repr__(self) -> str:
        # What dataclasses shows in signatures (and so in generated docstrings).
        return "<factory>"


_FACTORY = _Factory()

_ORDER = (("__lt__", "<"), ("__le__", "<="), ("__gt__", ">"), ("__ge__", ">="))


@overload
@dataclass_transform(field_specifiers=(dataclasses.field, dataclasses.Field))
def record(cls: type[_T], /) -> type[_T]: ...


@overload
@dataclass_transform(field_specifiers=(dataclasses.field, dataclasses.Field))
def record(
    *,
    init: bool = True,
    repr: bool = True,
    eq: bool = True,
    order: bool = False,
    unsafe_hash: bool = False,
    frozen: bool = False,
    match_args: bool = True,
    kw_only: bool = False,
    slots: bool = False,
) -> Callable[[type[_T]], type[_T]]: ...


def record(
    cls: type[_T] | None = None,
    /,
    *,
    init: bool = True,
    repr: bool = True,
    eq: bool = True,
    order: bool = False,
    unsafe_hash: bool = False,
    frozen: bool = False,
    match_args: bool = True,
    kw_only: bool = False,
    slots: bool = False,
) -> type[_T] | Callable[[type[_T]], type[_T]]:
    """Make ``cls`` a record: what :func:`dataclasses.dataclass` with the same options makes."""

    def wrap(cls: type[_T]) -> type[_T]:
        return _build(cls, init, repr, eq, order, unsafe_hash, frozen, match_args, kw_only, slots)

    return wrap if cls is None else wrap(cls)


def _build(
    cls: type[_T],
    init: bool,
    repr: bool,
    eq: bool,
    order: bool,
    unsafe_hash: bool,
    frozen: bool,
    match_args: bool,
    kw_only: bool,
    slots: bool,
) -> type[_T]:
    if order and not eq:
        raise ValueError("eq must be true if order is true")
    # dataclasses checks that frozen-ness agrees along a hierarchy from the options it was
    # given, which for records are never frozen: so the check is made here, from the records'
    # own mark (the shared frozen __setattr__).
    record_bases = [b for b in cls.__mro__[1:] if "__dataclass_fields__" in b.__dict__]
    if record_bases:
        any_frozen_base = any(_is_frozen(b) for b in record_bases)
        if any_frozen_base and not frozen:
            raise TypeError("cannot inherit non-frozen dataclass from a frozen one")
        if not any_frozen_base and frozen:
            raise TypeError("cannot inherit frozen dataclass from a non-frozen one")

    own = cls.__dict__
    class_hash = own.get("__hash__", _MISSING)
    has_explicit_hash = not (class_hash is _MISSING or (class_hash is None and "__eq__" in own))
    if frozen:
        for name in ("__setattr__", "__delattr__"):
            if name in own:
                raise TypeError(f"Cannot overwrite attribute {name} in class {cls.__name__}")
    if order:
        for name, _ in _ORDER:
            if name in own:
                raise TypeError(
                    f"Cannot overwrite attribute {name} in class {cls.__name__}. "
                    "Consider using functools.total_ordering"
                )
    hash_action = _hash_action(unsafe_hash, eq, frozen, has_explicit_hash, cls)
    has_doc = bool(cls.__doc__)
    if not has_doc:
        # Keeps dataclasses from asking inspect for a signature before __init__ exists; the
        # docstring dataclasses would give is put in its place below (made when first read).
        cls.__doc__ = cls.__name__

    # Nothing generated here: with every method off, dataclasses compiles no code.
    cls = dataclasses.dataclass(
        cls,
        init=False,
        repr=False,
        eq=False,
        order=False,
        unsafe_hash=False,
        frozen=False,
        match_args=match_args,
        kw_only=kw_only,
        slots=slots,
    )
    own = cls.__dict__
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if len(fields) != len(_init_candidates(cls)):
        # No record needs one; refused rather than given an __init__ that would drop it.
        raise TypeError(f"{cls.__name__}: records do not support InitVar fields")

    source: list[str] = []
    names: list[str] = []
    scope: dict[str, Any] = {}
    if init and "__init__" not in own:
        source.append(_init_source(cls, fields, frozen, slots, scope))
        names.append("__init__")
    compared = [f for f in fields if f.compare]
    if eq and "__eq__" not in own:
        source.append(_compare_source("__eq__", "==", compared))
        names.append("__eq__")
    if order:
        for name, op in _ORDER:
            source.append(_compare_source(name, op, compared))
            names.append(name)
    if hash_action == "add":
        hashed = [f for f in fields if (f.compare if f.hash is None else f.hash)]
        source.append(f" def __hash__(self):\n  return hash({_tuple('self', hashed)})")
        names.append("__hash__")
    if source:
        # Compiled when the class is first used: a run uses only some of nplint's records.
        annotations: dict[str, Any] | None = None
        if "__init__" in names:
            # The annotations dataclasses' __init__ has (inspect.signature shows them).
            annotations = {f.name: f.type for f in _init_order(fields)}
            annotations["return"] = None
        module = sys.modules.get(cls.__module__)
        methods = _Methods(
            cls, source, names, scope, module.__dict__ if module is not None else {}, annotations
        )
        for name in names:
            setattr(cls, name, _Deferred(methods, name))
    shared: dict[str, Any] = {}
    if hash_action == "none":
        shared["__hash__"] = None
    if repr and "__repr__" not in own:
        shared["__repr__"] = _record_repr
    if frozen:
        shared["__setattr__"] = _frozen_setattr
        shared["__delattr__"] = _frozen_delattr
        if slots:
            # Pickling (findings between processes, the document cache) and copying need these
            # for a frozen class without a __dict__, as dataclasses gives them.
            if "__getstate__" not in own:
                shared["__getstate__"] = _frozen_getstate
            if "__setstate__" not in own:
                shared["__setstate__"] = _frozen_setstate
    for name, value in shared.items():
        setattr(cls, name, value)
    if not has_doc:
        # The docstring dataclasses gives, made from the signature when first read.
        cls.__doc__ = _DeferredDoc(cls)  # type: ignore[assignment]
    abc.update_abstractmethods(cls)
    return cls


def _is_frozen(cls: type) -> bool:
    return cls.__dict__.get("__setattr__") is _frozen_setattr


def _init_candidates(cls: type) -> list[dataclasses.Field[Any]]:
    """The fields and InitVar pseudo-fields of ``cls``: all but its ClassVars.

    Only dataclasses' private mark tells a ClassVar's pseudo-field from an InitVar's when the
    annotation is a string, as it is in every module of nplint.
    """
    found: dict[str, dataclasses.Field[Any]] = cls.__dataclass_fields__  # type: ignore[attr-defined]
    return [f for f in found.values() if f._field_type is not dataclasses._FIELD_CLASSVAR]  # type: ignore[attr-defined]


def _hash_action(unsafe_hash: bool, eq: bool, frozen: bool, has_explicit_hash: bool, cls: type) -> str:
    """What dataclasses' table of hash actions does: "add", "none" or nothing ("")."""
    if unsafe_hash:
        if has_explicit_hash:
            raise TypeError(f"Cannot overwrite attribute __hash__ in class {cls.__name__}")
        return "add"
    if not eq or has_explicit_hash:
        return ""
    return "add" if frozen else "none"


def _init_order(fields: tuple[dataclasses.Field[Any], ...]) -> list[dataclasses.Field[Any]]:
    return [f for f in fields if f.init and not f.kw_only] + [f for f in fields if f.init and f.kw_only]


def _init_source(
    cls: type,
    fields: tuple[dataclasses.Field[Any], ...],
    frozen: bool,
    slots: bool,
    scope: dict[str, Any],
) -> str:
    """The text of ``__init__`` as dataclasses writes it; the values it names go to ``scope``."""
    positional = [f for f in fields if f.init and not f.kw_only]
    keyword = [f for f in fields if f.init and f.kw_only]
    seen_default = False
    for f in positional:
        if not (f.default is _MISSING and f.default_factory is _MISSING):
            seen_default = True
        elif seen_default:
            raise TypeError(f"non-default argument {f.name!r} follows default argument")
    self_name = "__record_self__" if any(f.name == "self" for f in fields) else "self"

    def parameter(f: dataclasses.Field[Any]) -> str:
        if f.default is not _MISSING:
            scope[f"__record_default_{f.name}"] = f.default
            return f"{f.name}=__record_default_{f.name}"
        if f.default_factory is not _MISSING:
            return f"{f.name}=__record_factory__"
        return f.name

    parameters = [self_name, *map(parameter, positional)]
    if keyword:
        parameters += ["*", *map(parameter, keyword)]
    body: list[str] = []
    for f in fields:
        if f.default_factory is not _MISSING:
            scope[f"__record_make_{f.name}"] = f.default_factory
            value = (
                f"__record_make_{f.name}() if {f.name} is __record_factory__ else {f.name}"
                if f.init
                else f"__record_make_{f.name}()"
            )
        elif f.init:
            value = f.name
        elif slots and f.default is not _MISSING:
            # A slot has no class attribute to fall back on: the default is stored.
            scope[f"__record_default_{f.name}"] = f.default
            value = f"__record_default_{f.name}"
        else:
            continue
        if frozen:
            body.append(f"__record_setattr__({self_name},{f.name!r},{value})")
        else:
            body.append(f"{self_name}.{f.name}={value}")
    if hasattr(cls, "__post_init__"):
        body.append(f"{self_name}.__post_init__()")
    scope["__record_factory__"] = _FACTORY
    scope["__record_setattr__"] = object.__setattr__
    lines = "".join(f"\n  {line}" for line in body or ["pass"])
    return f" def __init__({','.join(parameters)}):{lines}"


def _tuple(name: str, fields: list[dataclasses.Field[Any]]) -> str:
    if not fields:
        return "()"
    return "(" + ",".join(f"{name}.{f.name}" for f in fields) + ",)"


def _compare_source(name: str, op: str, fields: list[dataclasses.Field[Any]]) -> str:
    return (
        f" def {name}(self,other):\n"
        "  if other.__class__ is self.__class__:\n"
        f"   return {_tuple('self', fields)}{op}{_tuple('other', fields)}\n"
        "  return NotImplemented"
    )


class _Methods:
    """A record's generated methods, compiled in one ``exec`` when the first of them is used.

    Until then each is a :class:`_Deferred` in the class: any lookup of one (a call, an
    ``inspect.signature``, ``super().__init__``) compiles them all and puts the functions in
    its place, so from then on the class runs exactly the code dataclasses would generate.
    """

    __slots__ = ("_annotations", "_cls", "_compiled", "_globals", "_names", "_scope", "_source")

    def __init__(
        self,
        cls: type,
        source: list[str],
        names: list[str],
        scope: dict[str, Any],
        module_globals: dict[str, Any],
        annotations: dict[str, Any] | None,
    ) -> None:
        self._cls = cls
        self._source = source
        self._names = names
        self._scope = scope
        self._globals = module_globals
        self._annotations = annotations
        self._compiled: dict[str, Callable[..., Any]] | None = None

    def compiled(self) -> dict[str, Callable[..., Any]]:
        compiled = self._compiled
        if compiled is None:
            text = (
                f"def __create_fn__({', '.join(self._scope)}):\n"
                + "\n".join(self._source)
                + f"\n return ({', '.join(self._names)},)"
            )
            namespace: dict[str, Any] = {}
            exec(text, self._globals, namespace)
            functions: tuple[Callable[..., Any], ...] = namespace["__create_fn__"](**self._scope)
            compiled = {function.__name__: function for function in functions}
            if self._annotations is not None:
                compiled["__init__"].__annotations__ = self._annotations
            for name, function in compiled.items():
                function.__qualname__ = f"{self._cls.__qualname__}.{name}"
                setattr(self._cls, name, function)
            # Two threads may both get here: each sets equivalent functions, either is right.
            self._compiled = compiled
        return compiled


class _Deferred:
    """A generated method of a record not compiled yet (see :class:`_Methods`)."""

    __slots__ = ("_methods", "_name")

    def __init__(self, methods: _Methods, name: str) -> None:
        self._methods = methods
        self._name = name

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        return self._methods.compiled()[self._name].__get__(obj, owner)


class _DeferredDoc:
    """The docstring dataclasses gives a class that has none, computed when first read.

    Reading ``__doc__`` of a class calls the ``__get__`` of what its ``__dict__`` holds there.
    """

    __slots__ = ("_cls",)

    def __init__(self, cls: type) -> None:
        self._cls = cls

    def __get__(self, obj: object, owner: type | None = None) -> str:
        cls = self._cls
        try:
            text_sig = str(inspect.signature(cls)).replace(" -> None", "")
        except (TypeError, ValueError):
            text_sig = ""
        doc = cls.__name__ + text_sig
        cls.__doc__ = doc
        return doc


# Keys of the records whose __repr__ is running, so a record that contains itself shows "..."
# (as dataclasses' reprlib-like guard does) instead of recursing without end.
_repr_running: set[tuple[int, int]] = set()


def _record_repr(self: Any) -> str:
    key = (id(self), _thread.get_ident())
    if key in _repr_running:
        return "..."
    _repr_running.add(key)
    try:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self) if f.repr)
        return f"{self.__class__.__qualname__}({shown})"
    finally:
        _repr_running.discard(key)


def _frozen_owner(cls: type[object]) -> type[object]:
    return next(c for c in cls.__mro__ if c.__dict__.get("__setattr__") is _frozen_setattr)


def _is_field(cls: type, name: str) -> bool:
    return any(f.name == name for f in dataclasses.fields(cls))


def _frozen_setattr(self: object, name: str, value: Any) -> None:
    cls = type(self)
    if _is_frozen(cls) or _is_field(cls, name):
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
    # A plain subclass of a frozen record (with a __dict__) may set attributes of its own.
    super(_frozen_owner(cls), self).__setattr__(name, value)  # type: ignore[misc]


def _frozen_delattr(self: object, name: str) -> None:
    cls = type(self)
    if _is_frozen(cls) or _is_field(cls, name):
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
    super(_frozen_owner(cls), self).__delattr__(name)  # type: ignore[misc]


def _frozen_getstate(self: Any) -> list[Any]:
    return [getattr(self, f.name) for f in dataclasses.fields(self)]


def _frozen_setstate(self: Any, state: list[Any]) -> None:
    for f, value in zip(dataclasses.fields(self), state, strict=False):
        object.__setattr__(self, f.name, value)
