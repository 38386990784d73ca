"""The symbolic pickle machine: walks a pickle opcode stream without unpickling it.

:class:`Walker` reads the opcodes (a fast path for the few that make up nearly all of a scikit-learn
pickle, :mod:`pickletools`' argument readers for the rest) on a tiny symbolic stack machine:
strings, numbers, tuples, lists and dicts are rebuilt, everything else is an opaque placeholder;
nothing is ever imported or called. It records every global the stream references (``GLOBAL``,
``INST``, ``STACK_GLOBAL`` with its module/name strings resolved through the stack and the memo) and
every ``_sklearn_version`` value of a state dict, and stops with :class:`BadPickle` on anything it
cannot follow (at most :data:`MAX_OPS` opcodes: hostile input).

joblib files are not plain pickles. Layout, from joblib ``joblib/numpy_pickle.py``
(``NumpyPickler.save`` / ``NumpyArrayWrapper.write_array`` / ``read_array``):

* every numpy array is replaced by a ``joblib.numpy_pickle.NumpyArrayWrapper`` object (state:
  ``subclass, shape, order, dtype, allow_mmap`` and, since joblib 1.2, ``numpy_array_alignment_bytes``);
* right after that wrapper's ``BUILD`` (the pickle-4 frame is force-committed first) joblib writes
  the array: for ``dtype.hasobject`` arrays a nested protocol-2 pickle of the array; otherwise, when
  ``numpy_array_alignment_bytes`` is present and not None, one byte holding the padding length
  followed by that many padding bytes, then ``prod(shape) * itemsize`` raw bytes.

The walker skips those bytes (walking a nested pickle like any other) and notes that the file is a
joblib file.
"""
from __future__ import annotations

import io
import pickletools
import struct
from math import prod
from typing import Any

from deploycheck.analysis.pickle_values import OPAQUE, Blob, Global, Instance, dtype_size

MAX_OPS = 5_000_000                      # opcodes walked before giving up (hostile input)


class BadPickle(Exception):
    """The stream cannot be followed (the message says where)."""


class Walker:
    """Walks one byte string; appends what it finds to ``globals_out`` ((module, name), first-seen
    order, unique) and ``versions_out`` (``_sklearn_version`` values, first-seen order, unique)."""

    def __init__(self, data: bytes, globals_out: list[tuple[str, str]], versions_out: list[str]):
        self.data = data
        self.f = io.BytesIO(data)      # for pickletools' argument readers (rare opcodes)
        self.pos = 0
        self.globals_out = globals_out
        self.versions_out = versions_out
        self._seen_g: set[tuple[str, str]] = set()
        self._seen_v: set[str] = set()
        self.ops = 0
        self.joblib = False
        self.aligned: bool | None = None   # joblib arrays: True when written with alignment padding (joblib >= 1.2)

    # -- bookkeeping
    def add_global(self, module: Any, name: Any) -> Global:
        if not isinstance(module, str) or not isinstance(name, str):
            module, name = "<unresolved>", "<unresolved>"
        key = (module, name)
        if key not in self._seen_g:
            self._seen_g.add(key)
            self.globals_out.append(key)
        return Global(module, name)

    def note_item(self, key: Any, value: Any) -> None:
        if key == "_sklearn_version" and isinstance(value, str) and value not in self._seen_v:
            self._seen_v.add(value)
            self.versions_out.append(value)

    # -- one pickle stream (up to its STOP)
    def run(self) -> Any:
        stack: list[Any] = []
        marks: list[list[Any]] = []
        memo: dict[int, Any] = {}

        def pop_mark() -> list[Any]:
            nonlocal stack
            if not marks:
                raise BadPickle("MARK missing")
            items = stack
            stack = marks.pop()
            return items

        def pop() -> Any:
            if not stack:
                raise BadPickle("stack underflow")
            return stack.pop()

        data = self.data
        view = memoryview(data)
        f = self.f
        end = len(data)
        pos = self.pos
        ops = 0
        max_ops = MAX_OPS - self.ops      # budget shared with nested streams
        while True:
            if pos >= end:
                raise BadPickle("pickle stream ended without STOP")
            code = data[pos]
            pos += 1
            ops += 1
            if ops > max_ops:
                raise BadPickle(f"more than {MAX_OPS} pickle opcodes")
            # ---- fast path: the opcodes that make up nearly all of a scikit-learn pickle
            if code == 0x94:                                    # MEMOIZE
                if not stack:
                    raise BadPickle("stack underflow")
                memo[len(memo)] = stack[-1]
                continue
            if code == 0x68:                                    # BINGET
                try:
                    stack.append(memo[data[pos]])
                except (KeyError, IndexError):
                    raise BadPickle("memo key missing")
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
                    raise BadPickle("stack underflow")
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
                    raise BadPickle("stack underflow")
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
                n1 = data[pos]
                stack.append(Blob(view[pos + 1:pos + 1 + n1]))
                pos += 1 + n1
                continue
            if code == 0x42:                                    # BINBYTES (numpy array data, mostly)
                n4 = _LE_UINT4.unpack_from(data, pos)[0]
                stack.append(Blob(view[pos + 4:pos + 4 + n4]))
                pos += 4 + n4
                continue
            if code == 0x62:                                    # BUILD (only here: joblib's arrays follow it)
                state = pop()
                if not stack:
                    raise BadPickle("stack underflow")
                obj = stack[-1]
                if isinstance(obj, Instance):
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
                stack.append(Instance(func, args))
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
                raise BadPickle(f"opcode {code:#04x} unknown")
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
                stack.append(Blob(arg) if isinstance(arg, (bytes, bytearray)) else OPAQUE)
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
                stack.append(Instance(Global("builtins", "set")))
            elif n == "LIST":
                items = pop_mark()          # (pop_mark rebinds `stack`: never write stack.append(pop_mark()))
                stack.append(items)
            elif n == "TUPLE":
                items = pop_mark()
                stack.append(tuple(items))
            elif n in ("TUPLE1", "TUPLE2", "TUPLE3"):
                k = int(n[-1])
                if len(stack) < k:
                    raise BadPickle("stack underflow")
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
                stack.append(Instance(Global("builtins", "frozenset")))
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
                    raise BadPickle("stack underflow")
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
                stack.append(Instance(self.add_global(mod, name), tuple(args)))
            elif n == "OBJ":
                items = pop_mark()
                if not items:
                    raise BadPickle("OBJ without class")
                stack.append(Instance(items[0], tuple(items[1:])))
            elif n in ("EXT1", "EXT2", "EXT4"):
                stack.append(self.add_global("copyreg", f"extension[{arg}]"))
            elif n == "REDUCE":
                args = pop()
                func = pop()
                stack.append(Instance(func, args))
            elif n == "NEWOBJ":
                args = pop()
                cls = pop()
                stack.append(Instance(cls, args))
            elif n == "NEWOBJ_EX":
                pop()
                args = pop()
                cls = pop()
                stack.append(Instance(cls, args))
            elif n in ("PUT", "BINPUT", "LONG_BINPUT"):
                if not stack:
                    raise BadPickle("stack underflow")
                memo[int(arg)] = stack[-1]
            elif n == "MEMOIZE":
                if not stack:
                    raise BadPickle("stack underflow")
                memo[len(memo)] = stack[-1]
            elif n in ("GET", "BINGET", "LONG_BINGET"):
                try:
                    stack.append(memo[int(arg)])
                except KeyError:
                    raise BadPickle(f"memo key {arg} missing")
            elif n in ("PERSID", "BINPERSID"):
                if n == "BINPERSID":
                    pop()
                stack.append(OPAQUE)
            elif n in ("NEXT_BUFFER", "READONLY_BUFFER"):
                if n == "NEXT_BUFFER":
                    stack.append(OPAQUE)
            else:
                raise BadPickle(f"unsupported opcode {n}")

    def _set(self, d: Any, k: Any, v: Any) -> None:
        self.note_item(k, v)
        if isinstance(d, dict):
            try:
                d[k] = v
            except TypeError:      # unhashable placeholder key
                pass

    # -- joblib arrays
    @staticmethod
    def _is_wrapper(obj: Instance) -> bool:
        f = obj.func
        return (isinstance(f, Global) and f.name == "NumpyArrayWrapper"
                and f.module.endswith("numpy_pickle"))

    def _skip_array(self, wrapper: Instance) -> None:
        self.joblib = True
        st = wrapper.state
        if isinstance(st, tuple) and len(st) == 2 and isinstance(st[0], dict):
            st = st[0]
        if not isinstance(st, dict):
            raise BadPickle("NumpyArrayWrapper without a readable state")
        shape = st.get("shape")
        dtype = st.get("dtype")
        if not isinstance(shape, tuple) or not all(isinstance(x, int) and x >= 0 for x in shape):
            raise BadPickle("NumpyArrayWrapper with an unreadable shape")
        itemsize, hasobject = dtype_size(dtype)
        if hasobject:
            # joblib pickles object arrays with pickle.dump(protocol=2): a nested stream.
            self.run()
            return
        if itemsize is None:
            raise BadPickle("NumpyArrayWrapper with an unreadable dtype")
        pos = self.pos
        padded = "numpy_array_alignment_bytes" in st and st["numpy_array_alignment_bytes"] is not None
        self.aligned = bool(self.aligned) or padded
        if padded:
            if pos >= len(self.data):
                raise BadPickle("truncated joblib array")
            pos += 1 + self.data[pos]
        nbytes = prod(shape) * itemsize
        if pos + nbytes > len(self.data):
            raise BadPickle("truncated joblib array data")
        wrapper.data = Blob(memoryview(self.data)[pos:pos + nbytes])
        self.pos = pos + nbytes


_BY_CODE = {ord(op.code): op for op in pickletools.opcodes}
_BE_DOUBLE = struct.Struct(">d")
_LE_INT4 = struct.Struct("<i")
_LE_UINT4 = struct.Struct("<I")
