"""C printf formatting, for printk and seq_printf (glibc's vsnprintf, as the
userspace harness prints).

Each argument arrives as its value and its C type after the default argument
promotions; the conversion reads it as printf would: ``%d`` of an ``unsigned
int`` prints it as a signed ``int`` (a value >= 2**31 shows negative), ``%u``
of an ``int`` prints it unsigned, ``%ld``/``%lu``/``%lx`` read 64 bits
(a 32-bit argument extended by its own signedness).
"""
from __future__ import annotations

import re

from . import typesys as T

_SPEC = re.compile(r"%(?P<flags>[-+ #0]*)(?P<width>\*|\d+)?(?:\.(?P<prec>\*|\d*))?"
                   r"(?P<len>hh|h|ll|l|L|q|j|z|Z|t)?(?P<conv>[diouxXcsp%])")


class FormatError(ValueError):
    """A format the interpreter does not print (with the reason)."""


def _as_bits(value, ty, bits: int) -> int:
    """The argument's bit pattern as a ``bits``-wide unsigned integer."""
    if isinstance(ty, T.Int):
        v = ty.wrap(value)  # the argument's C value
        return v & ((1 << bits) - 1)
    raise FormatError(f"a {ty} argument to an integer conversion")


def format_c(fmt: str, args: list[tuple[int | str, T.CType]]) -> str:
    """``fmt`` applied to concrete ``args`` [(value, promoted C type)]."""
    out, pos, k = [], 0, 0
    for m in _SPEC.finditer(fmt):
        out.append(fmt[pos:m.start()])
        pos = m.end()
        conv = m.group("conv")
        if conv == "%":
            out.append("%")
            continue
        flags, width, prec, length = m.group("flags"), m.group("width"), m.group("prec"), m.group("len") or ""
        if width == "*" or prec == "*":
            raise FormatError("'*' width or precision")
        if k >= len(args):
            raise FormatError(f"too few arguments for {m.group(0)!r}")
        value, ty = args[k]
        k += 1
        pyspec = "%" + flags + (width or "") + ("." + prec if prec is not None else "")
        if conv == "s":
            if not isinstance(value, str):
                raise FormatError(f"%s of a {ty}")
            out.append((pyspec + "s") % value)
        elif conv == "p":
            raise FormatError("%p (a pointer's value)")
        elif conv == "c":
            out.append((pyspec + "c") % chr(_as_bits(value, ty, 32) & 0xFF))
        else:
            bits = 64 if length in ("l", "ll", "L", "q", "j", "z", "Z", "t") else 32
            if length == "h":
                bits = 16
            elif length == "hh":
                bits = 8
            v = _as_bits(value, ty, bits)
            if conv in "di":
                if v >> (bits - 1):
                    v -= 1 << bits
                out.append((pyspec + "d") % v)
            elif conv == "u":
                out.append((pyspec + "d") % v)
            elif conv == "o" and "#" in flags:
                raise FormatError("%#o")
            else:
                out.append((pyspec + conv) % v)
    out.append(fmt[pos:])
    return "".join(out)
