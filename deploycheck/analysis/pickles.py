"""Read a pickle / joblib file WITHOUT unpickling it.

:func:`scan_pickle` walks the opcode stream with :func:`pickletools.genops` and a tiny symbolic
stack machine (strings, numbers, tuples, lists and dicts are rebuilt, everything else is an opaque
placeholder; nothing is ever imported or called). From that walk it reports

* every global the stream references (``GLOBAL``, ``INST``, ``STACK_GLOBAL`` with its module/name
  strings resolved through the stack and the memo), which is what an unpickler would import;
* every ``_sklearn_version`` value: ``BaseEstimator.__getstate__`` adds that key to the state dict
  of each estimator (scikit-learn ``sklearn/base.py``), so the version that pickled the model is in
  the stream;
* the container format: plain pickle, joblib, or joblib compressed with zlib/gzip/bz2/xz/lzma/lz4.

joblib files are not plain pickles. Layout, from joblib ``joblib/numpy_pickle.py``
(``NumpyPickler.save`` / ``NumpyArrayWrapper.write_array`` / ``read_array``):

* every numpy array is replaced by a ``joblib.numpy_pickle.NumpyArrayWrapper`` object (state:
  ``subclass, shape, order, dtype, allow_mmap`` and, since joblib 1.2, ``numpy_array_alignment_bytes``);
* right after that wrapper's ``BUILD`` (the pickle-4 frame is force-committed first) joblib writes
  the array: for ``dtype.hasobject`` arrays a nested protocol-2 pickle of the array; otherwise, when
  ``numpy_array_alignment_bytes`` is present and not None, one byte holding the padding length
  followed by that many padding bytes, then ``prod(shape) * itemsize`` raw bytes.

Compressed joblib files (joblib ``joblib/compressor.py`` magic prefixes: zlib ``x``, gzip ``\\x1f\\x8b``,
bz2 ``BZ``, xz ``\\xfd7zXZ``, lzma ``]\\x00``, lz4 ``\\x04\\x22\\x4d\\x18``; pre-0.9.3 ``ZF``) wrap that whole
stream; they are decompressed in memory with a hard cap on the decompressed size.
"""
from __future__ import annotations

import bz2
import io
import lzma
import pickletools
import re
import struct
import zlib
from dataclasses import dataclass, field
from math import prod
from pathlib import Path
from typing import Any, Callable, Protocol

MAX_DECOMPRESSED = 512 * 1024 * 1024     # bytes of decompressed stream we accept
MAX_OPS = 5_000_000                      # opcodes walked before giving up (hostile input)
_CHUNK = 8 * 1024 * 1024


@dataclass
class PickleScan:
    globals: list[tuple[str, str]] = field(default_factory=list)   # (module, name), first-seen order, unique
    sklearn_versions: list[str] = field(default_factory=list)      # unique, first-seen order
    format: str = "pickle"          # "pickle" | "joblib" | "joblib-compressed:<zlib|gzip|bz2|xz|lzma|lz4|zfile>"
    error: str | None = None        # why the walk stopped early (None: the whole stream was read)
    top: str | None = None          # "module.Class" of the top-level object, when known

    @property
    def sklearn_version(self) -> str | None:
        """The version of the outermost estimator (the last one written), else the first found."""
        return self.sklearn_versions[-1] if self.sklearn_versions else None


# ------------------------------------------------------------------ decompression

class TooLarge(Exception):
    pass


def _compression(data: bytes) -> str | None:
    if data[:2] == b"\x1f\x8b":
        return "gzip"
    if data[:3] == b"BZh":
        return "bz2"
    if data[:5] == b"\xfd7zXZ":
        return "xz"
    if data[:4] == b"\x04\x22\x4d\x18":
        return "lz4"
    if data[:2] == b"ZF":
        return "zfile"
    if data[:3] == b"]\x00\x00":                     # lzma "alone" header: props 0x5d + dict size
        return "lzma"
    if len(data) >= 2 and data[0] == 0x78 and (data[0] * 256 + data[1]) % 31 == 0:   # zlib header check
        return "zlib"
    return None


def _inflate_zlib(data: bytes, wbits: int, cap: int) -> bytes:
    out: list[bytes] = []
    total = 0
    d = zlib.decompressobj(wbits)
    buf = data
    while True:
        chunk = d.decompress(buf, _CHUNK)
        total += len(chunk)
        if total > cap:
            raise TooLarge
        out.append(chunk)
        buf = d.unconsumed_tail
        if d.eof:
            rest = d.unused_data
            if wbits >= 16 + 8 and rest[:2] == b"\x1f\x8b":     # another gzip member
                d = zlib.decompressobj(wbits)
                buf = rest
                continue
            break
        if not buf and not chunk:                               # truncated stream
            break
    return b"".join(out)


class _Decompressor(Protocol):
    """What bz2.BZ2Decompressor, lzma.LZMADecompressor and lz4.frame.LZ4FrameDecompressor share."""
    def decompress(self, data: bytes, max_length: int = -1, /) -> bytes: ...
    @property
    def eof(self) -> bool: ...
    @property
    def needs_input(self) -> bool: ...
    @property
    def unused_data(self) -> bytes: ...


def _inflate_stream(make: Callable[[], _Decompressor], data: bytes, cap: int, magic: bytes | None = None) -> bytes:
    """bz2/lzma-style decompressors (``decompress(data, max_length)``, ``needs_input``, ``eof``)."""
    out: list[bytes] = []
    total = 0
    d = make()
    chunk = d.decompress(data, _CHUNK)
    while True:
        total += len(chunk)
        if total > cap:
            raise TooLarge
        out.append(chunk)
        if d.eof:
            rest = d.unused_data
            if magic and rest[:len(magic)] == magic:                # multi-stream file
                d = make()
                chunk = d.decompress(rest, _CHUNK)
                continue
            break
        if d.needs_input:                                            # truncated
            break
        chunk = d.decompress(b"", _CHUNK)
    return b"".join(out)


def decompress(data: bytes, kind: str, cap: int = MAX_DECOMPRESSED) -> bytes:
    if kind == "gzip":
        return _inflate_zlib(data, 16 + zlib.MAX_WBITS, cap)
    if kind == "zlib":
        return _inflate_zlib(data, zlib.MAX_WBITS, cap)
    if kind == "zfile":                     # joblib < 0.9.3: b"ZF" + hex length + zlib data
        i = data.find(b"\x78", 2, 64)
        if i < 0:
            raise ValueError("old joblib 'ZF' file without zlib data")
        return _inflate_zlib(data[i:], zlib.MAX_WBITS, cap)
    if kind == "bz2":
        return _inflate_stream(bz2.BZ2Decompressor, data, cap, b"BZh")
    if kind in ("xz", "lzma"):
        return _inflate_stream(lzma.LZMADecompressor, data, cap)
    if kind == "lz4":
        try:
            import lz4.frame
        except ImportError:
            raise ValueError("lz4-compressed joblib file and the lz4 package is not installed; "
                             "save the model with compress=3 (zlib) or without compression")
        return _inflate_stream(lz4.frame.LZ4FrameDecompressor, data, cap)
    raise ValueError(f"unknown compression {kind}")


# ------------------------------------------------------------------ the symbolic stack machine

class _G:
    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name


class _Obj:
    """An object the unpickler would create (never created here)."""
    __slots__ = ("func", "args", "state")

    def __init__(self, func: Any, args: Any = None):
        self.func, self.args, self.state = func, args, None


class _Opaque:
    __slots__ = ()


_OPAQUE = _Opaque()
_MARK = object()


class _Bad(Exception):
    pass


class _Walker:
    def __init__(self, data: bytes, scan: PickleScan):
        self.data = data
        self.f = io.BytesIO(data)      # for pickletools' argument readers (rare opcodes)
        self.pos = 0
        self.scan = scan
        self._seen_g: set[tuple[str, str]] = set()
        self._seen_v: set[str] = set()
        self.ops = 0
        self.joblib = False

    # -- bookkeeping
    def add_global(self, module: Any, name: Any) -> _G:
        if not isinstance(module, str) or not isinstance(name, str):
            module, name = "<unresolved>", "<unresolved>"
        key = (module, name)
        if key not in self._seen_g:
            self._seen_g.add(key)
            self.scan.globals.append(key)
        return _G(module, name)

    def note_item(self, key: Any, value: Any) -> None:
        if key == "_sklearn_version" and isinstance(value, str) and value not in self._seen_v:
            self._seen_v.add(value)
            self.scan.sklearn_versions.append(value)

    # -- one pickle stream (up to its STOP)
    def run(self) -> Any:
        stack: list[Any] = []
        marks: list[list[Any]] = []
        memo: dict[int, Any] = {}

        def pop_mark() -> list[Any]:
            nonlocal stack
            if not marks:
                raise _Bad("MARK missing")
            items = stack
            stack = marks.pop()
            return items

        def pop() -> Any:
            if not stack:
                raise _Bad("stack underflow")
            return stack.pop()

        data = self.data
        f = self.f
        end = len(data)
        pos = self.pos
        ops = 0
        max_ops = MAX_OPS - self.ops      # budget shared with nested streams
        while True:
            if pos >= end:
                raise _Bad("pickle stream ended without STOP")
            code = data[pos]
            pos += 1
            ops += 1
            if ops > max_ops:
                raise _Bad(f"more than {MAX_OPS} pickle opcodes")
            # ---- fast path: the opcodes that make up nearly all of a scikit-learn pickle
            if code == 0x94:                                    # MEMOIZE
                if not stack:
                    raise _Bad("stack underflow")
                memo[len(memo)] = stack[-1]
                continue
            if code == 0x68:                                    # BINGET
                try:
                    stack.append(memo[data[pos]])
                except (KeyError, IndexError):
                    raise _Bad("memo key missing")
                pos += 1
                continue
            if code == 0x8C:                                    # SHORT_BINUNICODE
                n1 = data[pos]
                stack.append(data[pos + 1:pos + 1 + n1].decode("utf-8", "surrogatepass"))
                pos += 1 + n1
                continue
            if code == 0x4B:                                    # BININT1
                stack.append(data[pos])
                pos += 1
                continue
            if code == 0x71:                                    # BINPUT
                if not stack:
                    raise _Bad("stack underflow")
                memo[data[pos]] = stack[-1]
                pos += 1
                continue
            if code == 0x28:                                    # MARK
                marks.append(stack)
                stack = []
                continue
            if code == 0x4E:                                    # NONE
                stack.append(None)
                continue
            if code == 0x88 or code == 0x89:                    # NEWTRUE / NEWFALSE
                stack.append(code == 0x88)
                continue
            if code == 0x29:                                    # EMPTY_TUPLE
                stack.append(())
                continue
            if code == 0x7D:                                    # EMPTY_DICT
                stack.append({})
                continue
            if code == 0x85 or code == 0x86 or code == 0x87:    # TUPLE1..3
                k = code - 0x84
                if len(stack) < k:
                    raise _Bad("stack underflow")
                tup = tuple(stack[-k:])
                del stack[-k:]
                stack.append(tup)
                continue
            if code == 0x47:                                    # BINFLOAT
                stack.append(_BE_DOUBLE.unpack_from(data, pos)[0])
                pos += 8
                continue
            if code == 0x4A:                                    # BININT
                stack.append(_LE_INT4.unpack_from(data, pos)[0])
                pos += 4
                continue
            if code == 0x43:                                    # SHORT_BINBYTES
                pos += 1 + data[pos]
                stack.append(_OPAQUE)
                continue
            if code == 0x42:                                    # BINBYTES
                pos += 4 + _LE_UINT4.unpack_from(data, pos)[0]
                stack.append(_OPAQUE)
                continue
            if code == 0x62:                                    # BUILD
                state = pop()
                if not stack:
                    raise _Bad("stack underflow")
                obj = stack[-1]
                if isinstance(obj, _Obj):
                    obj.state = state
                    if self._is_wrapper(obj):
                        self.pos = pos
                        self.ops += ops
                        max_ops -= ops
                        ops = 0
                        self._skip_array(obj)
                        max_ops = MAX_OPS - self.ops
                        pos = self.pos
                continue
            if code == 0x75:                                    # SETITEMS
                items = pop_mark()
                if stack:
                    d = stack[-1]
                    isdict = isinstance(d, dict)
                    for i in range(0, len(items) - 1, 2):
                        k = items[i]
                        if k == "_sklearn_version":
                            self.note_item(k, items[i + 1])
                        if isdict:
                            try:
                                d[k] = items[i + 1]
                            except TypeError:
                                pass
                continue
            if code == 0x93:                                    # STACK_GLOBAL
                name = pop()
                mod = pop()
                stack.append(self.add_global(mod, name))
                continue
            if code == 0x81 or code == 0x52:                    # NEWOBJ / REDUCE
                args = pop()
                func = pop()
                stack.append(_Obj(func, args))
                continue
            if code == 0x5D:                                    # EMPTY_LIST
                stack.append([])
                continue
            if code == 0x65:                                    # APPENDS
                items = pop_mark()
                if stack and isinstance(stack[-1], list):
                    stack[-1].extend(items)
                continue
            if code == 0x95:                                    # FRAME
                pos += 8
                continue
            if code == 0x2E:                                    # STOP
                self.pos = pos
                self.ops += ops
                return stack[-1] if stack else None
            # ---- everything else through pickletools' argument readers
            op = _BY_CODE.get(code)
            if op is None:
                raise _Bad(f"opcode {code:#04x} unknown")
            if op.arg is not None:
                f.seek(pos)
                arg = op.arg.reader(f)
                pos = f.tell()
            else:
                arg = None
            n = op.name
            if n in ("PROTO", "FRAME"):
                continue
            if n == "STOP":
                self.pos = pos
                self.ops += ops
                return stack[-1] if stack else None
            if n == "MARK":
                marks.append(stack)
                stack = []
            elif n in ("INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT",
                       "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE",
                       "BINUNICODE8"):
                stack.append(arg)
            elif n in ("BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8"):
                stack.append(_OPAQUE)
            elif n == "NONE":
                stack.append(None)
            elif n == "NEWTRUE":
                stack.append(True)
            elif n == "NEWFALSE":
                stack.append(False)
            elif n in ("EMPTY_LIST",):
                stack.append([])
            elif n == "EMPTY_TUPLE":
                stack.append(())
            elif n == "EMPTY_DICT":
                stack.append({})
            elif n == "EMPTY_SET":
                stack.append(_Obj(_G("builtins", "set")))
            elif n == "LIST":
                items = pop_mark()          # (pop_mark rebinds `stack`: never write stack.append(pop_mark()))
                stack.append(items)
            elif n == "TUPLE":
                items = pop_mark()
                stack.append(tuple(items))
            elif n in ("TUPLE1", "TUPLE2", "TUPLE3"):
                k = int(n[-1])
                if len(stack) < k:
                    raise _Bad("stack underflow")
                tup = tuple(stack[-k:])
                del stack[-k:]
                stack.append(tup)
            elif n == "DICT":
                items = pop_mark()
                new: dict[Any, Any] = {}
                for i in range(0, len(items) - 1, 2):
                    self._set(new, items[i], items[i + 1])
                stack.append(new)
            elif n == "FROZENSET":
                pop_mark()
                stack.append(_Obj(_G("builtins", "frozenset")))
            elif n == "APPEND":
                v = pop()
                if stack and isinstance(stack[-1], list):
                    stack[-1].append(v)
            elif n == "APPENDS":
                items = pop_mark()
                if stack and isinstance(stack[-1], list):
                    stack[-1].extend(items)
            elif n == "ADDITEMS":
                pop_mark()
            elif n == "SETITEM":
                v = pop()
                k = pop()
                if stack:
                    self._set(stack[-1], k, v)
            elif n == "SETITEMS":
                items = pop_mark()
                if stack:
                    for i in range(0, len(items) - 1, 2):
                        self._set(stack[-1], items[i], items[i + 1])
            elif n == "POP":
                if stack:
                    stack.pop()
                elif marks:
                    pop_mark()
            elif n == "POP_MARK":
                pop_mark()
            elif n == "DUP":
                if not stack:
                    raise _Bad("stack underflow")
                stack.append(stack[-1])
            elif n == "GLOBAL":
                mod, _, name = str(arg).partition(" ")
                stack.append(self.add_global(mod, name))
            elif n == "STACK_GLOBAL":
                name = pop()
                mod = pop()
                stack.append(self.add_global(mod, name))
            elif n == "INST":
                mod, _, name = str(arg).partition(" ")
                args = pop_mark()
                stack.append(_Obj(self.add_global(mod, name), tuple(args)))
            elif n == "OBJ":
                items = pop_mark()
                if not items:
                    raise _Bad("OBJ without class")
                stack.append(_Obj(items[0], tuple(items[1:])))
            elif n in ("EXT1", "EXT2", "EXT4"):
                stack.append(self.add_global("copyreg", f"extension[{arg}]"))
            elif n == "REDUCE":
                args = pop()
                func = pop()
                stack.append(_Obj(func, args))
            elif n == "NEWOBJ":
                args = pop()
                cls = pop()
                stack.append(_Obj(cls, args))
            elif n == "NEWOBJ_EX":
                pop()
                args = pop()
                cls = pop()
                stack.append(_Obj(cls, args))
            elif n == "BUILD":
                state = pop()
                if not stack:
                    raise _Bad("stack underflow")
                obj = stack[-1]
                if isinstance(obj, _Obj):
                    obj.state = state
                    if self._is_wrapper(obj):
                        self.pos = pos
                        self._skip_array(obj)
                        pos = self.pos
            elif n in ("PUT", "BINPUT", "LONG_BINPUT"):
                if not stack:
                    raise _Bad("stack underflow")
                memo[int(arg)] = stack[-1]
            elif n == "MEMOIZE":
                if not stack:
                    raise _Bad("stack underflow")
                memo[len(memo)] = stack[-1]
            elif n in ("GET", "BINGET", "LONG_BINGET"):
                try:
                    stack.append(memo[int(arg)])
                except KeyError:
                    raise _Bad(f"memo key {arg} missing")
            elif n in ("PERSID", "BINPERSID"):
                if n == "BINPERSID":
                    pop()
                stack.append(_OPAQUE)
            elif n in ("NEXT_BUFFER", "READONLY_BUFFER"):
                if n == "NEXT_BUFFER":
                    stack.append(_OPAQUE)
            else:
                raise _Bad(f"unsupported opcode {n}")

    def _set(self, d: Any, k: Any, v: Any) -> None:
        self.note_item(k, v)
        if isinstance(d, dict):
            try:
                d[k] = v
            except TypeError:      # unhashable placeholder key
                pass

    # -- joblib arrays
    @staticmethod
    def _is_wrapper(obj: _Obj) -> bool:
        f = obj.func
        return (isinstance(f, _G) and f.name == "NumpyArrayWrapper"
                and f.module.endswith("numpy_pickle"))

    def _skip_array(self, wrapper: _Obj) -> None:
        self.joblib = True
        st = wrapper.state
        if isinstance(st, tuple) and len(st) == 2 and isinstance(st[0], dict):
            st = st[0]
        if not isinstance(st, dict):
            raise _Bad("NumpyArrayWrapper without a readable state")
        shape = st.get("shape")
        dtype = st.get("dtype")
        if not isinstance(shape, tuple) or not all(isinstance(x, int) and x >= 0 for x in shape):
            raise _Bad("NumpyArrayWrapper with an unreadable shape")
        itemsize, hasobject = _dtype_size(dtype)
        if hasobject:
            # joblib pickles object arrays with pickle.dump(protocol=2): a nested stream.
            self.run()
            return
        if itemsize is None:
            raise _Bad("NumpyArrayWrapper with an unreadable dtype")
        pos = self.pos
        if "numpy_array_alignment_bytes" in st and st["numpy_array_alignment_bytes"] is not None:
            if pos >= len(self.data):
                raise _Bad("truncated joblib array")
            pos += 1 + self.data[pos]
        nbytes = prod(shape) * itemsize
        if pos + nbytes > len(self.data):
            raise _Bad("truncated joblib array data")
        self.pos = pos + nbytes


_BY_CODE = {ord(op.code): op for op in pickletools.opcodes}
_BE_DOUBLE = struct.Struct(">d")
_LE_INT4 = struct.Struct("<i")
_LE_UINT4 = struct.Struct("<I")

_TYPESTR = re.compile(r"^[<>|=]?([a-zA-Z])(\d*)")


def _dtype_size(dtype: Any) -> tuple[int | None, bool]:
    """(itemsize, hasobject) of a pickled numpy dtype placeholder (``numpy.dtype(typestr, ...)`` + state)."""
    if not isinstance(dtype, _Obj):
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


def _describe_top(obj: Any) -> str | None:
    if isinstance(obj, _Obj):
        f = obj.func
        if isinstance(f, _G) and f.module in ("copyreg", "copy_reg") and f.name == "_reconstructor" \
                and isinstance(obj.args, tuple) and obj.args and isinstance(obj.args[0], _G):
            f = obj.args[0]
        if isinstance(f, _G):
            return f"{f.module}.{f.name}"
    if isinstance(obj, (list, tuple, dict)):
        return f"builtins.{type(obj).__name__}"
    return None


def scan_pickle(data: bytes, max_decompressed: int = MAX_DECOMPRESSED) -> PickleScan:
    """Walk a pickle/joblib byte string without unpickling it. Never raises."""
    scan = PickleScan()
    try:
        kind = _compression(data)
        if kind:
            scan.format = f"joblib-compressed:{kind}"
            try:
                data = decompress(data, kind, max_decompressed)
            except TooLarge:
                scan.error = (f"too large: decompresses to more than {max_decompressed // (1024 * 1024)} MB")
                return scan
            except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as e:
                scan.error = f"not a valid {kind} file: {e}"
                return scan
        if not data:
            scan.error = "the file is empty"
            return scan
        w = _Walker(data, scan)
        try:
            top = w.run()
            scan.top = _describe_top(top)
        except _Bad as e:
            scan.error = f"not a readable pickle: {e}"
        except (ValueError, EOFError, UnicodeDecodeError, IndexError, KeyError, OverflowError, struct.error) as e:
            scan.error = f"not a readable pickle: {e}"
        if w.joblib and not kind:
            scan.format = "joblib"
    except Exception as e:  # defensive: hostile bytes must never raise out of here
        scan.error = f"not a readable pickle: {type(e).__name__}: {e}"
    return scan


def scan_file(path: str | Path, limit: int = MAX_DECOMPRESSED) -> PickleScan:
    """Read at most ``limit`` bytes of a regular file (symlinks refused) and scan them."""
    import os
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as e:
        return PickleScan(error=f"cannot open: {e.strerror}")
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        return PickleScan(error=f"too large: more than {limit // (1024 * 1024)} MB")
    return scan_pickle(data)


# ------------------------------------------------------------------ allowlist

# Default-deny, exact matches only. A global is allowed when its module is listed and its name is
# one of that module's allowed names, with no dots: a dotted name (pickle protocol 4 resolves
# ``STACK_GLOBAL('sklearn', 'os.system')`` to ``sklearn.os.system``, i.e. ``os.system``) is never
# allowed. scikit-learn's classes (every version a serving image uses, old module paths included)
# are generated into :mod:`deploycheck.analysis.pickle_allowlist`; the rest is listed here by hand.
_EXACT: dict[str, frozenset[str]] = {
    "builtins": frozenset({"object", "set", "frozenset", "slice", "range", "complex", "bytearray", "dict", "list",
                           "tuple", "int", "float", "bool", "str", "bytes", "NoneType", "Ellipsis", "NotImplemented"}),
    "collections": frozenset({"OrderedDict", "defaultdict", "deque", "Counter"}),
    "copyreg": frozenset({"_reconstructor", "__newobj__"}),
    "copy_reg": frozenset({"_reconstructor"}),
    "_codecs": frozenset({"encode"}),
    "functools": frozenset({"partial"}),
    "datetime": frozenset({"datetime", "date", "time", "timedelta", "timezone"}),
    "decimal": frozenset({"Decimal"}),
    "fractions": frozenset({"Fraction"}),
    # numpy: array, scalar and dtype reconstruction (numpy 1.x ``numpy.core``, 2.x ``numpy._core``)
    "numpy": frozenset({"ndarray", "dtype", "ufunc", "matrix", "mean", "median", "average", "sum", "max", "min",
                        "amax", "amin", "std", "var", "prod", "nanmean", "nanmedian", "nansum", "nanmax", "nanmin"}),
    "numpy.core.multiarray": frozenset({"_reconstruct", "scalar"}),
    "numpy._core.multiarray": frozenset({"_reconstruct", "scalar"}),
    "numpy.core.numeric": frozenset({"_frombuffer"}),
    "numpy._core.numeric": frozenset({"_frombuffer"}),
    "numpy.ma": frozenset({"MaskedArray"}),
    "numpy.ma.core": frozenset({"MaskedArray", "_mareconstruct"}),
    "numpy.random": frozenset({"__RandomState_ctor"}),
    "numpy.random.mtrand": frozenset({"RandomState"}),
    "numpy.random._pickle": frozenset({"__randomstate_ctor", "__bit_generator_ctor", "__generator_ctor"}),
    "numpy.random._mt19937": frozenset({"MT19937"}),
    "numpy.random._pcg64": frozenset({"PCG64", "PCG64DXSM"}),
    "numpy.random._philox": frozenset({"Philox"}),
    "numpy.random._sfc64": frozenset({"SFC64"}),
    "numpy.random.bit_generator": frozenset({"SeedSequence", "__pyx_unpickle_SeedSequence"}),
    "numpy.random._generator": frozenset({"Generator"}),
    # pure numpy functions estimators take as parameters (FeatureAgglomeration's pooling_func...)
    "numpy.core.fromnumeric": frozenset({"mean", "sum", "amax", "amin", "std", "var", "prod"}),
    # scikit-learn helpers that rebuild its own objects (Cython ``newObj(cls) = cls.__new__(cls)``,
    # the k-means loops BisectingKMeans keeps), and scipy's B-splines (SplineTransformer)
    "sklearn.neighbors._kd_tree": frozenset({"newObj"}), "sklearn.neighbors._ball_tree": frozenset({"newObj"}),
    "sklearn.neighbors.kd_tree": frozenset({"newObj"}), "sklearn.neighbors.ball_tree": frozenset({"newObj"}),
    "sklearn.neighbors._binary_tree": frozenset({"newObj"}),
    "sklearn.neighbors._dist_metrics": frozenset({"newObj"}), "sklearn.neighbors.dist_metrics": frozenset({"newObj"}),
    "sklearn.metrics._dist_metrics": frozenset({"newObj"}),
    "sklearn.cluster._kmeans": frozenset({"_kmeans_single_lloyd", "_kmeans_single_elkan"}),
    "scipy.interpolate._bsplines": frozenset({"BSpline"}),
    "scipy.interpolate._fitpack2": frozenset({"UnivariateSpline"}),
    "scipy._lib.array_api_compat.numpy._aliases": frozenset({"asarray"}),
    # joblib's array wrappers (joblib/numpy_pickle.py, numpy_pickle_compat.py)
    "joblib.numpy_pickle": frozenset({"NumpyArrayWrapper", "NDArrayWrapper", "ZNDArrayWrapper"}),
    "joblib.numpy_pickle_compat": frozenset({"NDArrayWrapper", "ZNDArrayWrapper"}),
    "sklearn.externals.joblib.numpy_pickle": frozenset({"NumpyArrayWrapper", "NDArrayWrapper", "ZNDArrayWrapper"}),
}
_EXACT["__builtin__"] = _EXACT["builtins"]


def global_allowed(module: str, name: str) -> bool:
    """True only for an exact (module, name) pair of the allowlist (see above)."""
    from deploycheck.analysis.pickle_allowlist import ALLOWED
    if not isinstance(module, str) or not isinstance(name, str) or not name or "." in name:
        return False
    if name in _EXACT.get(module, ()) or name in ALLOWED.get(module, ()):
        return True
    # Cython's pickling helper of an allowed class, in the same module
    return name.startswith("__pyx_unpickle_") and name[len("__pyx_unpickle_"):] in ALLOWED.get(module, ())


def is_safe(scan: PickleScan) -> tuple[bool, list[str]]:
    """(safe, offending "module.name" globals). A scan that could not read the whole stream is not safe."""
    offending = [f"{m}.{n}" for m, n in scan.globals if not global_allowed(m, n)]
    return (not offending and scan.error is None), offending
