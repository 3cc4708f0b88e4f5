"""Where the client keeps its files: the platform's per-user folders for one application."""

from __future__ import annotations

from pathlib import Path

import platformdirs

from ._light import NamedTuple


class AppPaths(NamedTuple):
    config_dir: Path  # the consent file
    data_dir: Path  # queue, history
    site_config_dir: Path  # the machine-wide policy file (written by administrators, read only)

    @property
    def consent_file(self) -> Path:
        return self.config_dir / "consent.json"

    @property
    def queue_dir(self) -> Path:
        return self.data_dir / "queue"

    @property
    def counters_file(self) -> Path:
        return self.data_dir / "counters.json"

    @property
    def period_file(self) -> Path:
        """The open period's values, kept across the app's starts until its report is built."""
        return self.data_dir / "period.json"

    @property
    def history_file(self) -> Path:
        return self.data_dir / "history.jsonl"

    @property
    def policy_file(self) -> Path:
        return self.site_config_dir / "policy.toml"

    @classmethod
    def for_app(cls, app: str) -> AppPaths:
        folder = f"{app}-feedback"
        return cls(
            config_dir=Path(platformdirs.user_config_dir(folder, appauthor=False)),
            data_dir=Path(platformdirs.user_data_dir(folder, appauthor=False)),
            site_config_dir=Path(platformdirs.site_config_dir(folder, appauthor=False)),
        )

    @classmethod
    def under(cls, root: Path) -> AppPaths:
        """All three folders below one root: for tests, simulations and portable installs."""
        return cls(root / "config", root / "data", root / "site")
