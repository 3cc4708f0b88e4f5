"""What modules on the start-up path use instead of heavier machinery: `NamedTuple`, `StrEnum` and `N_`.

The client's start-up path (import, then construct `Feedback` with feedback off) has a budget of
1.1× `import platformdirs, orjson` (SPEC §6), and every class it builds counts: importing `typing`
costs about a tenth of the budget, `collections.namedtuple` compiles a constructor from source
(about 0.1 ms a class) and an `enum.StrEnum` class costs about as much. Type checkers see
`typing.NamedTuple` and `enum.StrEnum`; at run time the same class statements build:

- `NamedTuple`: a tuple subclass with the class's methods and properties, whose fields are
  positional-or-keyword arguments (defaults last) and which has `_fields`, `_field_defaults`,
  `_make`, `_replace` and `_asdict`, as a `typing.NamedTuple` has;
- `StrEnum`: a str subclass whose members are its upper-case str attributes, one object each:
  ``Cls(value)`` returns the member (so ``is`` compares members) or raises ValueError, and
  ``member.value`` and ``member.name`` are what `enum` gives.
"""

from __future__ import annotations

from operator import itemgetter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from enum import StrEnum
    from typing import NamedTuple
else:

    def _new(name, fields, defaults):
        """The constructor: arguments bound as Python binds a function's, without compiling one."""
        first_default = len(fields) - len(defaults)

        def __new__(cls, *args, **kwargs):
            if len(args) > len(fields):
                raise TypeError(f"{name}() takes {len(fields)} positional arguments but {len(args)} were given")
            values = list(args)
            for i in range(len(args), len(fields)):
                if fields[i] in kwargs:
                    values.append(kwargs.pop(fields[i]))
                elif i >= first_default:
                    values.append(defaults[i - first_default])
                else:
                    raise TypeError(f"{name}() missing required argument: '{fields[i]}'")
            if kwargs:
                raise TypeError(f"{name}() got an unexpected or repeated argument '{next(iter(kwargs))}'")
            return tuple.__new__(cls, values)

        return __new__

    class _NamedTupleMethods(tuple):
        __slots__ = ()

        @classmethod
        def _make(cls, iterable):
            return cls(*iterable)

        def _replace(self, **changes):
            return type(self)(**{**self._asdict(), **changes})

        def _asdict(self):
            return dict(zip(self._fields, self, strict=True))

        def __getnewargs__(self):
            return tuple(self)

        def __repr__(self):
            inner = ", ".join(f"{field}={value!r}" for field, value in zip(self._fields, self, strict=True))
            return f"{type(self).__name__}({inner})"

    class _NamedTupleMeta(type):
        def __new__(mcls, name, bases, namespace):
            if not bases:
                return super().__new__(mcls, name, bases, namespace)
            fields = tuple(namespace.get("__annotations__", {}))
            defaults = tuple(namespace[f] for f in fields if f in namespace)
            members = {k: v for k, v in namespace.items() if k not in fields and k != "__annotations__"}
            members.update(
                __new__=_new(name, fields, defaults),
                __slots__=(),
                __match_args__=fields,
                _fields=fields,
                _field_defaults=dict(zip(fields[len(fields) - len(defaults) :], defaults, strict=True)),
            )
            for index, field in enumerate(fields):
                members[field] = property(itemgetter(index), doc=f"Alias for field number {index}")
            return type(name, (_NamedTupleMethods,), members)

    class NamedTuple(metaclass=_NamedTupleMeta):
        """Base of value classes: annotated fields (defaults last), plus methods and properties."""

    class _StrEnumMeta(type):
        def __new__(mcls, name, bases, namespace):
            cls = super().__new__(mcls, name, bases, namespace)
            cls._members_ = {}
            for key, value in namespace.items():
                if key.isupper() and type(value) is str:
                    member = str.__new__(cls, value)
                    member._name_ = key
                    setattr(cls, key, member)
                    cls._members_[value] = member
            return cls

        def __call__(cls, value):
            try:
                return cls._members_[value]
            except (KeyError, TypeError):
                raise ValueError(f"{value!r} is not a valid {cls.__name__}") from None

        def __iter__(cls):
            return iter(cls._members_.values())

        def __len__(cls):
            return len(cls._members_)

    class StrEnum(str, metaclass=_StrEnumMeta):
        """Base of enumerations of words (see the module docstring)."""

        @property
        def value(self):
            return str.__str__(self)

        @property
        def name(self):
            return self._name_

        __str__ = str.__str__
        __format__ = str.__format__

        def __repr__(self):
            return f"<{type(self).__name__}.{self._name_}: {str.__repr__(self)}>"

        def __reduce_ex__(self, protocol):
            return type(self), (str.__str__(self),)  # a copy is the member itself

        def __copy__(self):
            return self

        def __deepcopy__(self, memo):
            return self


def N_(message: str) -> str:
    """Mark ``message`` for the catalogs (`_i18n.py`); it is translated where it is shown."""
    return message


__all__ = ["N_", "NamedTuple", "StrEnum"]
