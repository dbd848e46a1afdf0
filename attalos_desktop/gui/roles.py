"""Named item-data roles of the app's item models (the grid's photos, the sidebar's views)."""

from __future__ import annotations

from enum import IntEnum

from PySide6.QtCore import Qt

_USER = int(Qt.ItemDataRole.UserRole)


class Role(IntEnum):
    """``model.data(index, Role.SCORE)`` instead of ``Qt.UserRole + 3``."""

    PHOTO_ID = _USER + 1  # int: the photo's catalog id
    PATH = _USER + 2  # str: the photo's file
    SCORE = _USER + 3  # float | None: relevance in search / similar results, None while browsing
    ROW = _USER + 4  # PhotoRow: everything the catalog knows about the photo
    STATE = _USER + 5  # str: "ready" | "loading" | "broken" (the thumbnail's state)
    VIEW_KEY = _USER + 20  # str: a sidebar entry's view ("all", "root:<id>", "problems")
    FILTER_KEY = _USER + 21  # str: a sidebar Years/Places entry ("year:2019", "place:FR", "place:FR/Paris")
    QUERY = _USER + 22  # str: the search text a Years/Places entry runs ("2019", "paris france")
