"""The symbolic values of the pickle machine (:mod:`deploycheck.analysis.pickle_machine`): what a
global, an object the unpickler would create and opaque data become on its stack (nothing is ever
imported, created or called), and what can be read off them: the class of the top-level object and
the item size of a numpy dtype.
"""
from __future__ import annotations

import re
from typing import Any


class Global:
    """A global the stream references (``module``, ``name``): never imported."""
    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name


class Instance:
    """An object the unpickler would create (never created here). ``data``: the :class:`Blob` of the
    raw array bytes joblib writes right after a ``NumpyArrayWrapper``."""
    __slots__ = ("func", "args", "state", "data")

    def __init__(self, func: Any, args: Any = None):
        self.func, self.args, self.state, self.data = func, args, None, None


class Opaque:
    """Anything the machine does not rebuild (bytes, buffers, persistent ids)."""
    __slots__ = ()


OPAQUE = Opaque()


class Blob(Opaque):
    """A bytes value of the stream (array data, above all), kept only as its length and digest: enough
    to tell that two pickles hold the same fitted parameters (:mod:`deploycheck.analysis.pickle_params`)."""
    __slots__ = ("size", "digest")

    def __init__(self, view: memoryview | bytes | bytearray):
        import hashlib
        self.size = len(view)
        self.digest = hashlib.blake2b(view, digest_size=16).digest()


_TYPESTR = re.compile(r"^[<>|=]?([a-zA-Z])(\d*)")


def dtype_size(dtype: Any) -> tuple[int | None, bool]:
    """(itemsize, hasobject) of a pickled numpy dtype placeholder (``numpy.dtype(typestr, ...)`` + state)."""
    if not isinstance(dtype, Instance):
        return None, False
    args = dtype.args if isinstance(dtype.args, tuple) else ()
    typestr = args[0] if args and isinstance(args[0], str) else ""
    st = dtype.state if isinstance(dtype.state, tuple) else ()
    flags = st[7] if len(st) > 7 and isinstance(st[7], int) else 0
    hasobject = typestr.startswith("O") or bool(flags & 1)
    if len(st) > 5 and isinstance(st[5], int) and st[5] > 0:
        return st[5], hasobject
    m = _TYPESTR.match(typestr)
    if not m:
        return None, hasobject
    kind, digits = m.group(1), m.group(2)
    if kind == "b" and not digits:
        return 1, hasobject
    if digits:
        return int(digits), hasobject
    return None, hasobject


def describe_top(obj: Any) -> str | None:
    """The "module.Class" of the top-level object the machine returned
    (:meth:`deploycheck.analysis.pickle_machine.Walker.run`), when known."""
    if isinstance(obj, Instance):
        f = obj.func
        if isinstance(f, Global) and f.module in ("copyreg", "copy_reg") and f.name == "_reconstructor" \
                and isinstance(obj.args, tuple) and obj.args and isinstance(obj.args[0], Global):
            f = obj.args[0]
        if isinstance(f, Global):
            return f"{f.module}.{f.name}"
    if isinstance(obj, (list, tuple, dict)):
        return f"builtins.{type(obj).__name__}"
    return None

