"""Kbuild parity: the userspace build compiles the driver with the flags the
kernel's own build gives a module, read from the resolved headers' Kbuild.

The test reads the headers' Makefile itself, and checks the flags it states
against what the compiler recorded in the built driver object (DWARF
DW_AT_producer) and against what the build accepts."""
import re
import subprocess
from pathlib import Path

import pytest

from balloonspec import SEED_DRIVER
from balloonspec.driver import build, kbuild_flags

VERSIONS = SEED_DRIVER.parent / "versions"
# The flags that change what C means or what the compiler accepts, named by the Makefile.
BEHAVIOUR_FLAGS = ["-fno-strict-overflow", "-fno-strict-aliasing", "-fno-delete-null-pointer-checks",
                   "-Wno-pointer-sign", "-Werror=implicit-function-declaration", "-Werror=incompatible-pointer-types"]


def headers_makefile_text() -> str:
    """The top Makefile of the resolved headers, continuation lines joined (Debian's
    build/Makefile only includes the one in linux-headers-*-common)."""
    build_dir = kbuild_flags.headers_dir()
    if build_dir is None:
        pytest.skip("no kernel headers installed: run `balloonspec setup-kernel`")
    text = (build_dir / "Makefile").read_text()
    m = re.match(r"include (\S+)", text.strip())
    if m:
        text = Path(m.group(1)).read_text()
    return text.replace("\\\n", " ")


def producer(binary: Path) -> str:
    """The compiler's record of its code generation options for the driver object."""
    out = subprocess.run(["readelf", "--debug-dump=info", str(binary.parent / "vmw_balloon.o")],
                         capture_output=True, text=True, check=True).stdout
    return re.search(r"DW_AT_producer\s*:.*?: (GNU C.*)", out).group(1)


def test_the_makefile_states_the_flags_and_the_build_uses_them():
    text = headers_makefile_text()
    assignments = "\n".join(line for line in text.splitlines() if re.match(r"\s*KBUILD_CFLAGS\s*[:+]?=", line))
    std = re.search(r"-std=gnu\w+", assignments).group(0)
    for flag in BEHAVIOUR_FLAGS + [std]:
        assert flag in assignments, f"{flag} is not in the headers' KBUILD_CFLAGS"
        assert flag in build.driver_flags(), f"{flag} is not used by the userspace build"
    recorded = producer(build.build_driver(SEED_DRIVER)).split()
    for flag in [std] + [f for f in BEHAVIOUR_FLAGS if f.startswith("-f")]:
        assert flag in recorded, (flag, recorded)


def test_the_flags_are_kbuilds_own_for_a_module():
    """The probe module's command line is Kbuild's: it carries the config-dependent
    flags (e.g. CONFIG_INIT_STACK_ALL_ZERO) that no Makefile line shows alone."""
    if kbuild_flags.headers_dir() is None:
        pytest.skip("no kernel headers installed: run `balloonspec setup-kernel`")
    probed = kbuild_flags.select(kbuild_flags.probe(kbuild_flags.headers_dir()))
    assert list(kbuild_flags.kbuild_flags().flags) == probed
    assert "-D__KERNEL__" in probed and "-DMODULE" in probed
    assert not [f for f in probed if f.startswith(("-m", "-I", "-include", "-pg"))]
    # the documented fallback is the same selection for the same kernel series
    assert list(kbuild_flags.fallback().flags) == probed


def test_without_headers_the_documented_fallback_applies(monkeypatch):
    monkeypatch.setenv("BALLOONSPEC_KBUILD_FLAGS", "fallback")
    flags = kbuild_flags.kbuild_flags()
    assert flags.source.startswith("fallback")
    assert all(f in flags.flags for f in BEHAVIOUR_FLAGS)
    assert all(where for _, where in kbuild_flags.FALLBACK)  # each flag says where it comes from


def test_valid_kernel_code_the_old_flags_rejected_now_builds():
    """1.2.2.0-k passes an `int *` where `unsigned int *` is expected: Kbuild's
    -Wno-pointer-sign accepts it; the former -Wall -Werror did not."""
    src = VERSIONS / "1.2.2.0-k.c"
    assert "int locked, hv_status;" in src.read_text()
    binary = build.build_driver(src)
    assert "pointer-sign" not in build.build_warnings(binary)
    r = subprocess.run(["gcc", "-Wall", "-Werror", f"-I{build.INCLUDE}", "-DKBUILD_MODNAME=\"x\"", "-fsyntax-only",
                        str(src)], capture_output=True, text=True)
    assert r.returncode != 0 and "-Werror=pointer-sign" in r.stderr


def test_kbuild_warnings_are_kept_not_fatal():
    """Kbuild (without CONFIG_WERROR) warns about the seed's fall-through comment; so does this build."""
    warnings = build.build_warnings(build.build_driver(SEED_DRIVER))
    assert "-Wimplicit-fallthrough" in warnings and f"{SEED_DRIVER}:" in warnings


def test_a_build_error_names_the_construct_and_line(tmp_path):
    src = tmp_path / "typo.c"
    src.write_text(SEED_DRIVER.read_text().replace("\tb->size--;\n\n\treturn 0;", "\tb->sise--;\n\n\treturn 0;", 1))
    line = next(i for i, l in enumerate(src.read_text().splitlines(), 1) if "b->sise--" in l)
    with pytest.raises(build.BuildError) as e:
        build.build_driver(src)
    assert e.value.first_errors[0].startswith(f"{src}:{line}:")
    assert "has no member named 'sise'" in e.value.first_errors[0]
    assert e.value.missing == []  # the driver's own structure: not a missing kernel API


def test_a_member_the_shims_lack_is_named(tmp_path):
    src = tmp_path / "member.c"
    src.write_text(SEED_DRIVER.read_text().replace("\t\tlist_del(&page->lru);\n\t\t__free_page(page);\n",
                                                   "\t\tlist_del(&page->lru);\n\t\tpage->mapping = NULL;\n"
                                                   "\t\t__free_page(page);\n", 1))
    with pytest.raises(build.BuildError) as e:
        build.build_driver(src)
    assert e.value.missing[0].startswith("driver uses struct page.mapping, which the userspace shims do not provide")
