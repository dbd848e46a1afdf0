"""Persistent GUI settings: a small JSON file in the user config dir (platformdirs).

$ATTALOS_CONFIG_DIR overrides the directory (tests, portable installs). Unknown or malformed values
fall back to defaults instead of stopping the app from starting.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from attalos_desktop.core.fsutil import atomic_write

CONFIG_ENV = "ATTALOS_CONFIG_DIR"
APP_NAME = "attalos-desktop"
FILE_NAME = "settings.json"


def config_dir() -> Path:
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME))


@dataclass
class Settings:
    geometry: str = ""  # base64 of QMainWindow.saveGeometry()
    window_state: str = ""  # base64 of QMainWindow.saveState()
    splitter: str = ""  # base64 of the main splitter's saveState()
    last_view: str = "all"  # "all", "problems" or "root:<folder path>"
    suggest_count: int = 10
    score_threshold: float = 0.0
    thumb_size: int = 160
    theme: str = "dark"  # "dark" or "system"
    suggest_place_tags: bool = False  # offer a photo's town and country (from its GPS) as tags: opt-in
    recent_libraries: list[str] = field(default_factory=list)

    @classmethod
    def path(cls) -> Path:
        return config_dir() / FILE_NAME

    @classmethod
    def load(cls) -> "Settings":
        s = cls()
        try:
            data = json.loads(cls.path().read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return s
        if not isinstance(data, dict):
            return s
        for f in fields(cls):
            if f.name not in data:
                continue
            cur = getattr(s, f.name)
            val = data[f.name]
            try:
                if isinstance(cur, bool):
                    val = bool(val)
                elif isinstance(cur, int):
                    val = int(val)
                elif isinstance(cur, float):
                    val = float(val)
                elif isinstance(cur, str):
                    val = str(val)
                elif isinstance(cur, list):
                    val = [str(v) for v in val] if isinstance(val, list) else cur
            except (TypeError, ValueError):
                continue
            setattr(s, f.name, val)
        s.suggest_count = min(max(s.suggest_count, 1), 100)
        s.score_threshold = min(max(s.score_threshold, 0.0), 1.0)
        s.thumb_size = min(max(s.thumb_size, 64), 512)
        return s

    def save(self) -> None:
        path = self.path()
        path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(self.to_json(), indent=2).encode("utf-8")
        atomic_write(path, lambda fh: fh.write(data))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
