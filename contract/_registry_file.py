"""A registry named by its file and parsed on first use.

A host app with feedback off never needs its registry: it only needs the application's name.
Handing `Feedback` a `RegistryFile` keeps TOML parsing (and its import) off the start-up path.
The file may be a path or a package resource, so an installed application needs no working
directory (docs/registry.md):

    from importlib.resources import files
    registry = RegistryFile(files("surveyor") / "surveyor.toml")
"""

from __future__ import annotations

from _thread import allocate_lock  # not threading: a desktop app with feedback off never imports it
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    from ._registry import Registry


class RegistryFile:
    __slots__ = ("_lock", "_parsed", "app", "path")

    def __init__(self, path: str | Path | Traversable) -> None:
        """``path``: a file path, or a package resource (``importlib.resources.files(pkg) / "app.toml"``)."""
        self.path: Path | Traversable = Path(path) if isinstance(path, str) else path
        self.app = Path(self.path.name).stem  # a registry file is named after its application
        self._parsed: Registry | None = None
        self._lock = allocate_lock()

    def load(self) -> Registry:
        """Parse once; raises RegistryError, naming the file (never its folder) and why, if the file is
        missing, unreadable, invalid, or declares another application than its name says."""
        with self._lock:
            if self._parsed is None:
                from ._errors import RegistryError
                from ._registry import parse_registry

                name = self.path.name
                try:
                    text = self.path.read_text(encoding="utf-8")
                except FileNotFoundError:
                    raise RegistryError(f"{name}: no such registry file (the registry of '{self.app}')") from None
                except (OSError, UnicodeDecodeError) as error:
                    why = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
                    raise RegistryError(f"{name}: cannot be read ({why})") from None
                try:
                    registry = parse_registry(text)
                except RegistryError as error:
                    raise RegistryError(f"{name}: {error}") from None
                if registry.app != self.app:
                    raise RegistryError(
                        f"{name}: declares app '{registry.app}' but is named for '{self.app}'; "
                        f"rename the file to {registry.app}.toml or fix its app"
                    )
                self._parsed = registry
            return self._parsed


def bundled_registry_file(app: str) -> RegistryFile:
    """A registry shipped inside this package (the demo application's), not yet parsed."""
    if not app.replace("_", "").isalnum() or not app.islower():
        raise ValueError("app must be a lower-case identifier")
    return RegistryFile(Path(__file__).with_name("registries") / f"{app}.toml")
