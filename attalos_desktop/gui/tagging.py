"""Tag editing: the suggest-tags review dialog, removing a tag, and the words offered to complete typing.

Every write goes to the query thread as a typed request; its reply refreshes the detail panel
(personal suggestions change when similar photos get tags) and says what happened in the status bar.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot

from attalos_desktop.gui.dialogs import SuggestDialog
from attalos_desktop.gui.host import TaggingHost
from attalos_desktop.gui.queries import (
    CompletionRequest,
    RemoveTagsRequest,
    ReviewRequest,
    SuggestRequest,
    TagWrite,
    describe,
)
from attalos_desktop.gui.status import with_warnings

MAX_REVIEW = 50  # photos in one review dialog


class TaggingController(QObject):
    tagsSaved = Signal(list)  # photo ids whose tags were written

    def __init__(self, win: TaggingHost) -> None:
        super().__init__(win.window())
        self.win = win
        self.words: list[str] | None = None  # completion words, once read
        self.dialog: SuggestDialog | None = None  # the newest review dialog

    # ---- completion words ----------------------------------------------------------------------
    def refresh_words(self) -> None:
        self.win.query.submit(CompletionRequest(), self._on_words)

    def forget_words(self) -> None:
        self.words = None
        self.refresh_words()

    def _on_words(self, words: list[str]) -> None:
        self.words = list(words)
        if self.dialog is not None:
            try:
                self.dialog.set_words(self.words)
            except RuntimeError:
                self.dialog = None  # closed and deleted meanwhile

    # ---- review --------------------------------------------------------------------------------
    def open_review(self, rows: list[Any]) -> SuggestDialog:
        win = self.win
        total = len(rows)
        rows = rows[:MAX_REVIEW]
        dlg = SuggestDialog(rows, win.model.pixmap_for, self.words, win.window())
        if total > len(rows):
            dlg.setWindowTitle(f"Suggest tags — the first {len(rows)} of {total} selected photos")
        dlg.reviewed.connect(self.save_review)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        s = win.settings
        req = SuggestRequest([r.id for r in rows], s.suggest_count, s.score_threshold, s.suggest_place_tags)

        def answered(details: dict[int, Any]) -> None:
            try:
                dlg.set_suggestions(details)
            except RuntimeError:
                pass  # the dialog was closed and deleted meanwhile

        def failed(exc: BaseException, _tb: str) -> None:
            try:
                dlg.set_error(describe(exc))
            except RuntimeError:
                pass
            win.show_error(SuggestRequest.title, describe(exc), _tb)

        win.query.submit(req, answered, failed)
        self.dialog = dlg
        if self.words is None:
            self.refresh_words()
        dlg.open()
        return dlg

    @Slot(list)
    def save_review(self, decisions: list) -> None:
        """Save [(photo id, accepted, rejected)] (what Save in the review dialog emits)."""
        if not decisions:
            return
        self.win.status.say("Saving tags…")
        self.win.query.submit(ReviewRequest(list(decisions)), self._on_reviewed)

    def _on_reviewed(self, w: TagWrite) -> None:
        self.win.status.say(with_warnings(f"Saved tags for {len(w.photo_ids)} photo(s).", w.warnings))
        self.refresh_words()
        self.win.refresh_detail()
        self.tagsSaved.emit(list(w.photo_ids))

    # ---- removing a tag ------------------------------------------------------------------------
    @Slot(int, str)
    def remove_tag(self, photo_id: int, tag: str) -> None:
        self.win.status.say(f"Removing the tag “{tag}”…")
        self.win.query.submit(RemoveTagsRequest(photo_id, [tag]), self._on_removed)

    def _on_removed(self, w: TagWrite) -> None:
        self.win.status.say(with_warnings("Tag removed.", w.warnings))
        self.win.refresh_detail()
        self.tagsSaved.emit(list(w.photo_ids))
