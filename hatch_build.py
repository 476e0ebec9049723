"""Hatchling build hook: compile tokmeter's optional accelerator (src/tokmeter/extract/_accel.c).

It is built when a C compiler and Python's headers are found, for wheels (``pip install .``: the wheel then
carries the binary and is tagged for this Python and platform) and editable installs (``pip install -e .``:
the binary is put beside the source, where the editable install imports from). Without a compiler, or
with ``TOKMETER_NO_ACCEL=1`` at build time, nothing is built and the wheel stays pure Python: tokmeter then
runs its pure-Python path, which gives the same rows (``tests/test_accel.py``).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("src/tokmeter/extract/_accel.c")
PACKAGE_DIR = "tokmeter/extract"


def extension_name() -> str:
    return "_accel" + (sysconfig.get_config_var("EXT_SUFFIX") or ".so")


def compiler() -> list[str] | None:
    """The C compiler command ($CC, else the one Python was built with, else cc), when it exists."""
    command = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
    if not command or shutil.which(command[0]) is None:
        return None
    return command


def compile_extension(root: Path, target: Path) -> bool:
    """Compile the accelerator to ``target``; False (and nothing written) when it cannot be built here."""
    include = sysconfig.get_paths().get("include")
    command = compiler()
    if (
        os.environ.get("TOKMETER_NO_ACCEL", "0") not in ("", "0")
        or command is None
        or sys.platform == "win32"
    ):
        return False
    if not include or not (Path(include) / "Python.h").exists():
        return False
    link = ["-bundle", "-undefined", "dynamic_lookup"] if sys.platform == "darwin" else ["-shared"]
    with tempfile.TemporaryDirectory() as scratch:
        built = Path(scratch) / target.name
        args = [*command, "-O2", "-fPIC", *link, f"-I{include}", str(root / SOURCE), "-o", str(built)]
        try:
            result = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
        except OSError:
            return False
        if result.returncode != 0 or not built.exists():
            print(f"tokmeter: accelerator not built ({result.stderr.strip()[:500]})", file=sys.stderr)
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, target)
    return True


class AcceleratorHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return  # the sdist carries the C source; its wheel compiles it
        root = Path(self.root)
        if version == "editable":
            # the editable install imports the package from src/: the binary goes beside its source
            target = root / "src" / PACKAGE_DIR / extension_name()
            target.unlink(missing_ok=True)  # a stale one from another Python or an older source
            if compile_extension(root, target):
                build_data["pure_python"] = False
                build_data["infer_tag"] = True
            return
        self._scratch = tempfile.mkdtemp(prefix="tokmeter-accel-")  # removed in finalize
        target = Path(self._scratch) / extension_name()
        if compile_extension(root, target):
            build_data["force_include"][str(target)] = f"{PACKAGE_DIR}/{extension_name()}"
            build_data["pure_python"] = False
            build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        scratch = getattr(self, "_scratch", None)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
