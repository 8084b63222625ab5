"""Trivial Compiler Equivalence: a mutant whose optimised object code is the
seed's is equivalent; two mutants with the same object code are duplicates.

The driver object is compiled as the userspace build compiles it
(driver/build.py ``driver_flags``: Kbuild's own flags, -O2 and the warnings
Kbuild makes errors) but without debug info (``-g0``), once per CONFIG_DEBUG_FS setting. Its
*signature* is a digest of everything the code does: every allocated
section (code, read-only data, data, the size of bss, unwind tables) by
name, its bytes, and its relocations (offset, type, the symbol's name or
section, addend), in a fixed order. Symbol names, section names and
relocations make the comparison exact where bytes alone are not (two calls
of different functions have the same bytes before linking); the file's
layout, debug info, the compiler's ident and the source's name are left
out, so the comparison is deterministic.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection

from balloonspec.driver.build import driver_flags

CONFIGS = (True, False)  # CONFIG_DEBUG_FS on, off
OBJECT_NAME = "vmw_balloon"  # the file the compiler sees (its name is in no compared section)


class CompileError(Exception):
    """The mutant does not compile in one configuration."""

    def __init__(self, debugfs: bool, stderr: str) -> None:
        self.debugfs, self.stderr = debugfs, stderr
        first = next((ln for ln in stderr.splitlines() if "error" in ln), stderr.strip()[:300])
        super().__init__(f"CONFIG_DEBUG_FS={'y' if debugfs else 'n'}: {first}")


@dataclass(frozen=True)
class Signature:
    """The object code of a driver source, one digest per configuration."""

    debugfs_on: str
    debugfs_off: str

    @property
    def key(self) -> str:
        return f"{self.debugfs_on}:{self.debugfs_off}"


def object_digest(obj: str | Path) -> str:
    """The digest of an object file's allocated sections and their relocations."""
    h = hashlib.sha256()
    with open(obj, "rb") as f:
        elf = ELFFile(f)
        symtab = elf.get_section_by_name(".symtab")
        relocs: dict[str, RelocationSection] = {}
        for sec in elf.iter_sections():
            if isinstance(sec, RelocationSection):
                target = elf.get_section(sec["sh_info"])
                relocs[target.name] = sec
        for sec in sorted((s for s in elf.iter_sections() if s["sh_flags"] & SH_FLAGS.SHF_ALLOC),
                          key=lambda s: s.name):
            h.update(f"{sec.name}|{sec['sh_type']}|{sec['sh_size']}|{sec['sh_flags']}\n".encode())
            if sec["sh_type"] != "SHT_NOBITS":
                h.update(sec.data())
            rel = relocs.get(sec.name)
            if rel is None:
                continue
            for r in rel.iter_relocations():
                h.update(f"{r['r_offset']}|{r['r_info_type']}|{r.entry.get('r_addend', 0)}|"
                         f"{_symbol(elf, symtab, r['r_info_sym'])}\n".encode())
    return h.hexdigest()


def _symbol(elf: ELFFile, symtab, index: int) -> str:
    if symtab is None or index == 0:
        return ""
    sym = symtab.get_symbol(index)
    shndx = sym["st_shndx"]
    where = elf.get_section(shndx).name if isinstance(shndx, int) and shndx > 0 else str(shndx)
    if sym["st_info"]["type"] == "STT_SECTION":
        return where
    return f"{sym.name}@{where}+{sym['st_value']}" if isinstance(shndx, int) and shndx > 0 else sym.name


def compile_object(source_text: str | bytes, debugfs: bool, workdir: Path) -> Path:
    """Compile a driver source text to an object without debug info (CompileError if it fails)."""
    workdir.mkdir(parents=True, exist_ok=True)
    src = workdir / f"{OBJECT_NAME}.c"
    src.write_bytes(source_text.encode() if isinstance(source_text, str) else source_text)
    obj = workdir / f"{OBJECT_NAME}-{'on' if debugfs else 'off'}.o"
    cmd = ["gcc", *driver_flags(debugfs), "-g0", "-c", src.name, "-o", obj.name]
    r = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})
    if r.returncode != 0:
        raise CompileError(debugfs, r.stderr[-4000:])
    return obj


def signature(source_text: str | bytes, workdir: Path | None = None) -> Signature:
    """The object-code signature of a driver source in both configurations."""
    with tempfile.TemporaryDirectory(prefix="balloonspec-tce-") as tmp:
        wd = Path(workdir or tmp)
        digests = [object_digest(compile_object(source_text, debugfs, wd)) for debugfs in CONFIGS]
    return Signature(*digests)
