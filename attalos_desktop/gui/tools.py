"""The Tools menu's dialogs: Models (list and switch), Settings (incl. the library's sidecar setting),
Train on my tags. Their data comes from the query thread as typed requests."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot

from attalos_desktop.gui.dialogs import ModelsDialog, SettingsDialog
from attalos_desktop.gui.host import ToolsHost
from attalos_desktop.gui.queries import (
    GetSidecarsRequest,
    ModelList,
    ModelsRequest,
    SetModelRequest,
    SetSidecarsRequest,
    TrainingSummaryRequest,
    describe,
)
from attalos_desktop.gui.training import TrainingDialog

WAIT_FOR_INDEX = "Wait for indexing to finish (or cancel it) before switching models."


def _alive(dialog: Any) -> bool:
    """Whether a dialog's C++ side still exists (WA_DeleteOnClose deletes it on close)."""
    try:
        dialog.isVisible()
        return True
    except RuntimeError:
        return False


class ToolsController(QObject):
    modelsLoaded = Signal()
    modelSwitched = Signal(bool)  # whether the photos are being re-embedded
    sidecarsChanged = Signal(bool)

    def __init__(self, win: ToolsHost) -> None:
        super().__init__(win.window())
        self.win = win
        self.models_dialog: ModelsDialog | None = None
        self.settings_dialog: SettingsDialog | None = None
        self.training_dialog: TrainingDialog | None = None  # made on first use
        self.sidecars_enabled: bool | None = None  # the library's setting, once read

    # ---- models ----------------------------------------------------------------------------------
    def show_models(self) -> ModelsDialog:
        if self.models_dialog is None:
            self.models_dialog = ModelsDialog(self.win.window())
            self.models_dialog.modelChosen.connect(self._on_model_chosen)
        self.models_dialog.set_busy(self.win.indexing)
        self._list_models()
        self.models_dialog.show()
        self.models_dialog.raise_()
        return self.models_dialog

    def _list_models(self) -> None:
        self.win.query.submit(ModelsRequest(), self._on_models)

    def _on_models(self, m: ModelList) -> None:
        if self.models_dialog is not None:
            self.models_dialog.set_models(m.models, m.current, m.provider)
            self.models_dialog.set_busy(self.win.indexing)
            self.modelsLoaded.emit()

    @Slot(str)
    def _on_model_chosen(self, path: str) -> None:
        if self.win.indexing:
            self.win.show_error("Model switch", WAIT_FOR_INDEX)
            return
        if self.models_dialog is not None:
            self.models_dialog.set_busy(True, "Switching model…")
        self.switch_model(path, f"Switching to the model in {path}…")

    @Slot(str)
    def _on_trained_model_chosen(self, path: str) -> None:
        if self.win.indexing:
            self.win.show_error("Model switch", WAIT_FOR_INDEX)
            if self.training_dialog is not None:
                self.training_dialog.on_switch_refused()
            return
        self.switch_model(path, f"Switching to your model in {path}…")

    def switch_model(self, path: str, message: str) -> None:
        self.win.status.say(message)
        self.win.query.submit(SetModelRequest(path), self._on_switched, self._on_switch_failed)

    def _on_switched(self, needs_reembed: bool) -> None:
        win = self.win
        win.tagging.forget_words()
        if needs_reembed:
            win.status.say("Model switched; re-embedding the library in the background…")
            win.start_index(None, "Re-embedding")
        else:
            win.status.say("Model switched.")
        if self.models_dialog is not None:
            self.models_dialog.set_busy(win.indexing)
            self._list_models()
        win.refresh_detail()
        self.modelSwitched.emit(bool(needs_reembed))

    def _on_switch_failed(self, exc: BaseException, tb: str) -> None:
        message = describe(exc)
        if self.models_dialog is not None:
            self.models_dialog.set_busy(False, f"Could not switch model: {message}")
        if self.training_dialog is not None:
            self.training_dialog.on_switch_failed(message)
        self.win.show_error(SetModelRequest.title, message, tb)

    # ---- settings --------------------------------------------------------------------------------
    def show_settings(self) -> SettingsDialog:
        """Open Settings (non-modal to the event loop: replies keep arriving while it is open)."""
        if self.settings_dialog is not None and _alive(self.settings_dialog):
            self.settings_dialog.raise_()
            return self.settings_dialog
        dlg = SettingsDialog(self.win.settings, self.win.window(), sidecars=None)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dlg.accepted.connect(self._on_settings_accepted)
        dlg.destroyed.connect(self._on_settings_destroyed)
        self.settings_dialog = dlg
        self.win.query.submit(GetSidecarsRequest(), self._on_sidecars_read)  # the CLI obeys it too
        dlg.open()
        return dlg

    def _on_sidecars_read(self, on: bool) -> None:
        self.sidecars_enabled = bool(on)
        if self.settings_dialog is not None and _alive(self.settings_dialog):
            self.settings_dialog.set_sidecars(bool(on))

    @Slot()
    def _on_settings_destroyed(self) -> None:
        self.settings_dialog = None

    @Slot()
    def _on_settings_accepted(self) -> None:
        dlg = self.settings_dialog
        if dlg is None:
            return
        dlg.apply()
        win = self.win
        win.apply_thumb_size(win.settings.thumb_size)
        win.save_settings()
        want = dlg.sidecars_choice()
        if want is not None and want != self.sidecars_enabled:
            win.query.submit(SetSidecarsRequest(want), self._on_sidecars_set)
        win.refresh_detail()

    def _on_sidecars_set(self, on: bool) -> None:
        self.sidecars_enabled = bool(on)
        self.win.status.say(
            "Tags are written to XMP sidecars next to the photos."
            if on
            else "Tags are kept in the library only (no XMP sidecars)."
        )
        self.sidecarsChanged.emit(bool(on))

    # ---- train on my tags --------------------------------------------------------------------------
    def show_training(self, command: Any = None, available: Any = None) -> TrainingDialog:
        """Tools → Train on my tags…: the dialog runs the trainer as a child process.

        ``command`` (home -> argv) and ``available`` (() -> bool) replace the trainer command and the
        PyTorch check of a new dialog (tests run a fake trainer that speaks the same protocol).
        """
        dlg = self.training_dialog
        if dlg is not None and not _alive(dlg):
            dlg = self.training_dialog = None
        if dlg is not None and (command is not None or available is not None):
            if dlg.running:
                return dlg
            dlg.deleteLater()
            dlg = self.training_dialog = None
        if dlg is None:
            dlg = TrainingDialog(self.win.home, self.win.window(), command=command, available=available)
            dlg.modelChosen.connect(self._on_trained_model_chosen)
            self.modelSwitched.connect(dlg.on_model_switched)
            self.training_dialog = dlg
        self.win.query.submit(TrainingSummaryRequest(), self._on_training_summary)
        dlg.show()
        dlg.raise_()
        return dlg

    def _on_training_summary(self, summary: Any) -> None:
        if self.training_dialog is not None and _alive(self.training_dialog):
            self.training_dialog.set_summary(summary)

    def shutdown(self) -> None:
        if self.training_dialog is not None and _alive(self.training_dialog):
            self.training_dialog.shutdown()  # a running trainer is terminated: nothing is written
