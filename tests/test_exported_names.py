"""Every module's __all__ names things that exist (the public surface stays honest)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

PACKAGES = ("assistant", "channels", "memory")


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        root = importlib.import_module(package)
        names.append(package)
        for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
            if ".migrations" not in info.name:
                names.append(info.name)
    return names


@pytest.mark.parametrize("name", _modules())
def test_all_lists_only_existing_names(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    if exported is None:
        return
    missing = [n for n in exported if not hasattr(module, n)]
    assert missing == [], f"{name}.__all__ names what does not exist: {missing}"
    assert len(set(exported)) == len(exported), f"{name}.__all__ lists a name twice"
