"""Run the C preprocessor over a driver source with the analysis headers.

``preprocess(path)`` runs ``gcc -E`` with line markers over any driver source
of the family, against csource/include/ (the kernel API as the interpreter
implements it) instead of the userspace shims, with the build's definitions
(``KBUILD_MODNAME``, ``CONFIG_DEBUG_FS`` as configured). CRLF line endings
are accepted as they are (the preprocessor reads them; line numbers do not
change). The result keeps the original text, so that parse.py can map every
coordinate back to the driver's own lines and columns.
"""
from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import PreprocessError

INCLUDE = Path(__file__).resolve().parent / "include"
KBUILD_MODNAME = "vmw_balloon"


@dataclass(frozen=True)
class Preprocessed:
    path: Path  # the driver source, as given (resolved)
    text: str  # gcc -E output, with line markers naming `path`
    original: str  # the driver source text (CRLF folded to LF)
    debugfs: bool
    defines: tuple[str, ...]

    @property
    def original_lines(self) -> list[str]:
        return self.original.split("\n")


def flags(debugfs: bool = True, defines: tuple[str, ...] = ()) -> list[str]:
    """The preprocessor flags of an analysis build (``defines``: extra ``NAME`` or
    ``NAME=VALUE``, e.g. ``DEBUG``)."""
    out = ["-E", "-nostdinc", "-undef", "-D__x86_64__=1", "-D__KERNEL__=1", "-DCONFIG_X86=1",
           f"-I{INCLUDE}", f'-DKBUILD_MODNAME="{KBUILD_MODNAME}"']
    if debugfs:
        out.append("-DCONFIG_DEBUG_FS=1")
    out += [f"-D{d}" for d in defines]
    return out


def preprocess(path: str | Path, *, debugfs: bool = True, defines: tuple[str, ...] = ()) -> Preprocessed:
    path = Path(path).resolve()
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise PreprocessError(f"cannot read the driver source: {e.strerror}", str(path)) from e
    original = raw.decode("utf-8", "replace").replace("\r\n", "\n")
    r = subprocess.run(["gcc", *flags(debugfs, defines), str(path)], capture_output=True, text=True,
                       errors="replace")
    if r.returncode != 0:
        first = next((ln for ln in r.stderr.splitlines() if "error" in ln), r.stderr.strip()[:500])
        raise PreprocessError(f"the C preprocessor failed: {first}", str(path))
    return Preprocessed(path, r.stdout, original, debugfs, tuple(defines))
