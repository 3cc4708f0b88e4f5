"""A registry named by its file and parsed on first use.

A host app with feedback off never needs its registry: it only needs the application's name.
Handing `Feedback` a `RegistryFile` keeps TOML parsing (and its import) off the start-up path.
"""

from __future__ import annotations

import threading
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._registry import Registry


class RegistryFile:
    __slots__ = ("_lock", "_parsed", "app", "path")

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.app = self.path.stem  # a registry file is named after its application
        self._parsed: Registry | None = None
        self._lock = threading.Lock()

    def load(self) -> Registry:
        """Parse once; raises RegistryError if the file is invalid or names another application."""
        with self._lock:
            if self._parsed is None:
                from ._errors import RegistryError
                from ._registry import load_registry

                registry = load_registry(self.path)
                if registry.app != self.app:
                    raise RegistryError(
                        f"{self.path.name}: declares app '{registry.app}' but is named for '{self.app}'"
                    )
                self._parsed = registry
            return self._parsed


def bundled_registry_file(app: str) -> RegistryFile:
    """A registry shipped inside this package (the demo application's), not yet parsed."""
    if not app.replace("_", "").isalnum() or not app.islower():
        raise ValueError("app must be a lower-case identifier")
    return RegistryFile(Path(__file__).with_name("registries") / f"{app}.toml")
