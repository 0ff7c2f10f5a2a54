"""API methods and their declared arguments.

Each method declares, in order, the arguments it takes: required ones,
optional ones with a default (``CALLER`` meaning "the calling user"), their
accepted types, and older spellings (aliases). Binding a request's ``args``
against that declaration produces Kallithea's messages for missing, unknown
and mistyped arguments. An explicit ``null`` for an optional argument means
the same as leaving it out (DESIGN.md section 1).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kallithead.errors import ApiError

if TYPE_CHECKING:
    from kallithead.api.context import CallContext


class _Marker:
    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


# The default of an optional argument that stands for the calling user.
CALLER: Any = _Marker("CALLER")
# The default of an optional argument whose absence the method must notice
# (update methods change only what was supplied).
OMITTED: Any = _Marker("OMITTED")


@dataclass(frozen=True)
class ArgType:
    """What values an argument accepts; ``convert`` raises ValueError."""

    description: str
    convert: Callable[[Any], Any]


def _any(value: Any) -> Any:
    return value


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError
    return value


_TRUE_WORDS = {"true", "t", "yes", "y", "on", "1"}
_FALSE_WORDS = {"false", "f", "no", "n", "off", "0", ""}


def _boolean(value: Any) -> bool:
    # kallithea-api sends every value as a string, so the usual spellings of
    # true and false are accepted too.
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    raise ValueError


def _id_or_name(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError
    return value


ANY = ArgType("any value", _any)
STRING = ArgType("a string", _string)
BOOLEAN = ArgType("a boolean", _boolean)
ID_OR_NAME = ArgType("an id or a name", _id_or_name)


@dataclass(frozen=True)
class Arg:
    name: str
    type: ArgType = ANY
    required: bool = True
    default: Any = None
    aliases: tuple[str, ...] = ()


def required(name: str, type: ArgType = ANY, aliases: Iterable[str] = ()) -> Arg:
    return Arg(name, type, required=True, aliases=tuple(aliases))


def optional(
    name: str,
    type: ArgType = ANY,
    default: Any = OMITTED,
    aliases: Iterable[str] = (),
) -> Arg:
    return Arg(name, type, required=False, default=default, aliases=tuple(aliases))


MethodFunction = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class Gate:
    """A check made before the method runs: admin, or any of some permissions.

    A caller who fails it gets ``Access was denied to this resource.``
    """

    any_of: tuple[str, ...] = ()

    def allows(self, ctx: CallContext) -> bool:
        return ctx.caller.permissions.has_global(*self.any_of)


ADMIN_ONLY = Gate()


@dataclass(frozen=True)
class ApiMethod:
    name: str
    function: MethodFunction
    args: tuple[Arg, ...]
    gate: Gate | None = None
    aliases: tuple[str, ...] = ()
    _names: Mapping[str, Arg] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names: dict[str, Arg] = {}
        for arg in self.args:
            for spelling in (arg.name, *arg.aliases):
                names[spelling] = arg
        object.__setattr__(self, "_names", names)

    def bind(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Match the request's ``args`` to the declaration.

        Returns the keyword arguments for the function, or raises ApiError
        with Kallithea's message: the last missing required argument in
        declaration order, then every unknown name, then the first value of
        the wrong type.
        """
        supplied: dict[str, Any] = {}
        for arg in self.args:
            for spelling in (arg.name, *arg.aliases):
                if spelling in given and (
                    arg.name not in supplied or supplied[arg.name] is None
                ):
                    supplied[arg.name] = given[spelling]

        missing = [a.name for a in self.args if a.required and a.name not in supplied]
        if missing:
            raise ApiError(f"Missing non optional `{missing[-1]}` arg in JSON DATA")

        unknown = [name for name in given if name not in self._names]
        if unknown:
            listed = ", ".join(f"`{name}`" for name in unknown)
            raise ApiError(f"Unknown {listed} arg in JSON DATA")

        bound: dict[str, Any] = {}
        for arg in self.args:
            value = supplied.get(arg.name)
            if value is None:
                bound[arg.name] = None if arg.required else arg.default
                continue
            try:
                bound[arg.name] = arg.type.convert(value)
            except ValueError:
                raise ApiError(
                    f"Invalid `{arg.name}` arg in JSON DATA: "
                    f"expected {arg.type.description}"
                ) from None
        return bound


class Registry:
    """The API's methods by name, aliases included."""

    def __init__(self) -> None:
        self._methods: dict[str, ApiMethod] = {}

    def method(
        self,
        name: str,
        *args: Arg,
        gate: Gate | None = None,
        aliases: Iterable[str] = (),
    ) -> Callable[[MethodFunction], MethodFunction]:
        """Declare the decorated coroutine function as an API method."""

        def register(function: MethodFunction) -> MethodFunction:
            method = ApiMethod(name, function, tuple(args), gate, tuple(aliases))
            for spelling in (name, *method.aliases):
                if spelling in self._methods:
                    raise ValueError(f"API method {spelling} declared twice")
                self._methods[spelling] = method
            return function

        return register

    def get(self, name: str) -> ApiMethod | None:
        return self._methods.get(name)

    def names(self) -> list[str]:
        return sorted(self._methods)


registry = Registry()
