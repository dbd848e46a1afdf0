"""The main window: assembles the parts and routes between them.

Where things are:
- sidebar.py: the views (All photos, folders, Problems) and the Years/Places searches; pages.py: empty
  state, results bar (with chips.py: what a search was understood as), Problems;
- grid.py: the thumbnail grid; detail.py: the detail panel; status.py: the status bar;
- index_controller.py: index jobs and their progress; queries.py: the query thread and its typed
  requests; search.py: search as you type, find similar; tagging.py: review and tag edits;
  tools.py: Models, Settings, Train on my tags; views.py: the sidebar's views, the empty state;
  roles.py: the item-data roles;
- desktop.py: open with the default application, show in the file manager; actions.py: menus;
- host.py: what the controllers and menus use from this window (protocols: they never import it).

The window itself keeps what is shown (the browse view, a search or similar results, the selection)
and never does the work: the GUI thread has no Library at all; every read and write is a request
to the query thread, indexing runs in a child process, thumbnails come from the ThumbnailLoader.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QByteArray,
    QEvent,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPoint,
    QSize,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from attalos_desktop.core.thumbnails import ThumbnailCache, library_cache_root
from attalos_desktop.gui import actions, desktop
from attalos_desktop.gui.detail import PREVIEW_SIZE, DetailPanel
from attalos_desktop.gui.grid import PhotoDelegate, PhotoGridModel, PhotoGridView
from attalos_desktop.gui.index_controller import IndexController
from attalos_desktop.gui.pages import EmptyState, ProblemsPage, ResultsBar
from attalos_desktop.gui.queries import Detail, DetailRequest, QueryClient, Results, describe
from attalos_desktop.gui.roles import Role
from attalos_desktop.gui.search import SearchController
from attalos_desktop.gui.settings import Settings
from attalos_desktop.gui.sidebar import ALL, PROBLEMS, Sidebar
from attalos_desktop.gui.status import StatusArea
from attalos_desktop.gui.tagging import TaggingController
from attalos_desktop.gui.tools import ToolsController
from attalos_desktop.gui.views import ViewsController
from attalos_desktop.gui.workers import ThumbnailLoader

# The GUI thread shares the GIL with the thumbnail threads: each Qt call that releases it may wait a
# whole switch interval to get it back (5 ms by default). A shorter interval bounds those waits.
GIL_SWITCH_S = 0.001


def thumbnail_threads() -> int:
    """Two thumbnail threads, but never all the cores: one is the GUI thread's.

    On two cores, two decoding threads plus an index run leave the GUI thread queued behind them
    (and behind the GIL they hold between Pillow calls) while the first screenful fills.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 2
    return max(1, min(2, cores - 1))


class MainWindow(QMainWindow):
    # Signals for observers (tests, screenshot mode); all emitted on the GUI thread.
    indexFinished = Signal(object)  # IndexReport, or None when the run failed
    photosLoaded = Signal()
    searchFinished = Signal(str)
    similarFinished = Signal(int)
    detailLoaded = Signal(int)
    tagsSaved = Signal(list)
    problemsLoaded = Signal()
    modelsLoaded = Signal()
    modelSwitched = Signal(bool)
    sidecarsChanged = Signal(bool)
    errorShown = Signal(str)

    def __init__(
        self, home: str | None = None, settings: Settings | None = None, cache: ThumbnailCache | None = None
    ) -> None:
        super().__init__()
        sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_S))
        self.home = home
        self.settings = settings if settings is not None else Settings.load()
        self.cache = cache if cache is not None else ThumbnailCache(library_cache_root(home))
        self.loader = ThumbnailLoader(self.cache, threads=thumbnail_threads(), parent=self)
        self.query = QueryClient(home, self)
        self.query.failed.connect(self._on_query_failed)
        self.errors: list[str] = []
        self.browse_key = ALL  # a sidebar view key: ALL, root_key(id) or PROBLEMS
        self.context_menu: QMenu | None = None
        self._closing = False

        self.setWindowTitle("Attalos")
        self.setAcceptDrops(True)
        self._build_ui()
        self.indexer = IndexController(
            home, self.status, self, thumbnails=lambda: (str(self.cache.root), self.model.thumb_size)
        )
        self.indexer.photosArrived.connect(self.views.on_index_photos)
        self.indexer.failed.connect(lambda msg, tb: self.show_error("Indexing failed", msg, tb))
        self.indexer.finished.connect(self._on_index_finished)
        self.tagging = TaggingController(self)
        self.tagging.tagsSaved.connect(self.tagsSaved)
        self.tools = ToolsController(self)
        self.tools.modelsLoaded.connect(self.modelsLoaded)
        self.tools.modelSwitched.connect(self.modelSwitched)
        self.tools.sidecarsChanged.connect(self.sidecarsChanged)
        self.detail.removeTagRequested.connect(self.tagging.remove_tag)
        actions.build(self)
        self._restore_geometry()
        self.views.refresh_overview(then=self.views.restore)
        self.tagging.refresh_words()
        self.status.poll_notices()

    # ------------------------------------------------------------------------------------------
    # Construction and settings
    # ------------------------------------------------------------------------------------------
    def _build_ui(self) -> None:
        ts = self.settings.thumb_size
        self.model = PhotoGridModel(self.loader, ts, parent=self)
        self.model.countChanged.connect(self._on_count_changed)
        self.grid = PhotoGridView()
        self.delegate = PhotoDelegate(ts, self.grid)
        self.grid.setItemDelegate(self.delegate)
        self.grid.setModel(self.model)
        self.grid.customContextMenuRequested.connect(self._on_grid_context_menu)
        self.grid.selectionModel().selectionChanged.connect(self.on_selection_changed)
        self.grid.doubleClicked.connect(self._on_grid_double_clicked)
        self.results_bar = ResultsBar()
        self.searcher = SearchController(self)
        self.views = ViewsController(self)
        self.results_bar.backRequested.connect(self.searcher.clear)
        self.grid_page = QWidget()
        gl = QVBoxLayout(self.grid_page)
        gl.setContentsMargins(0, 0, 0, 0)
        gl.setSpacing(0)
        gl.addWidget(self.results_bar)
        gl.addWidget(self.grid, 1)
        self.empty = self.empty_page = EmptyState()
        self.empty.addFolderRequested.connect(self.add_folder_dialog)
        self.problems_page = ProblemsPage()
        self.problems_page.folderRequested.connect(lambda path: desktop.open_folder(os.path.dirname(path)))
        self.stack = QStackedWidget()
        for page in (self.grid_page, self.empty_page, self.problems_page):
            self.stack.addWidget(page)
        self.sidebar = Sidebar()
        self.sidebar.viewChosen.connect(lambda key: self.select_view(key, from_sidebar=True))
        self.sidebar.removeRootRequested.connect(self.views.remove_root)
        self.sidebar.filterChosen.connect(self.views.choose_filter)
        self.results_bar.chips.removeRequested.connect(self.searcher.remove_term)
        self.detail = DetailPanel(self.loader)
        self.detail.suggestRequested.connect(self._on_detail_suggest)
        self.loader.signals.failed.connect(self._on_thumbnail_failed)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        for i, (w, stretch) in enumerate(((self.sidebar, 0), (self.stack, 1), (self.detail, 0))):
            self.splitter.addWidget(w)
            self.splitter.setStretchFactor(i, stretch)
        self.splitter.setSizes([200, 760, 300])
        self.splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.splitter)
        self.status = StatusArea(self.statusBar())

    def _restore_geometry(self) -> None:
        s = self.settings
        if s.geometry:
            self.restoreGeometry(QByteArray.fromBase64(s.geometry.encode("ascii")))
        else:
            self.resize(1280, 800)
        if s.window_state:
            self.restoreState(QByteArray.fromBase64(s.window_state.encode("ascii")))
        if s.splitter:
            self.splitter.restoreState(QByteArray.fromBase64(s.splitter.encode("ascii")))

    def save_settings(self) -> None:
        s = self.settings
        s.geometry = bytes(self.saveGeometry().toBase64()).decode("ascii")
        s.window_state = bytes(self.saveState().toBase64()).decode("ascii")
        s.splitter = bytes(self.splitter.saveState().toBase64()).decode("ascii")
        s.last_view = self.views.remembered_key()
        s.thumb_size = self.model.thumb_size
        try:
            s.save()
        except OSError as exc:
            self.errors.append(f"could not save settings: {exc}")

    # ------------------------------------------------------------------------------------------
    # Views: browse a folder, all photos or the problems (views.py)
    # ------------------------------------------------------------------------------------------
    def sidebar_items(self) -> dict[str, str]:
        """{view key: label} of the sidebar (what a user reads there)."""
        return self.sidebar.entries()

    def select_view(self, key: str, from_sidebar: bool = False) -> None:
        """Browse ALL, a root's key or PROBLEMS (leaving any search or similar results)."""
        self.views.select_view(key, from_sidebar)

    def is_empty_state(self) -> bool:
        return self.views.is_empty_state()

    @Slot(int)
    def _on_count_changed(self, n: int) -> None:
        if self.mode == "browse":
            self.status.set_count(f"{n:,} photos")
        else:
            self.status.set_count(f"{n:,} results · {self.sidebar.total:,} photos")
        actions.update_photo_actions(self)

    # ------------------------------------------------------------------------------------------
    # Indexing (index_controller.py does the job; the window shows what arrives)
    # ------------------------------------------------------------------------------------------
    @Slot()
    def add_folder_dialog(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Add a folder of photos", str(Path.home()))
        if d:
            self.add_folders([d])

    def add_folders(self, paths: list[str]) -> None:
        paths = [str(Path(p).resolve()) for p in paths if Path(p).is_dir()]
        if paths:
            self.start_index(paths, "Indexing")

    @Slot()
    def rescan(self) -> None:
        self.start_index(None, "Updating")

    def start_index(self, paths: list[str] | None, label: str = "Indexing") -> None:
        self.indexer.start(paths, label)
        self.act_rescan.setEnabled(False)
        if self.browse_key != PROBLEMS and self.mode == "browse":
            self.stack.setCurrentWidget(self.grid_page)

    @Slot()
    def cancel_index(self) -> None:
        self.indexer.cancel()

    @property
    def indexing(self) -> bool:
        return self.indexer.running

    @property
    def index_worker(self) -> Any:
        return self.indexer.worker

    @property
    def last_report(self) -> Any:
        """The report of the last index run (None when it failed)."""
        return self.indexer.last_report

    @property
    def last_index_exitcode(self) -> int | None:
        return self.indexer.last_exitcode

    @Slot(object)
    def _on_index_finished(self, report: Any) -> None:
        self.act_rescan.setEnabled(True)
        if self._closing:
            return
        self.tagging.refresh_words()
        self.views.index_finished()
        self.indexFinished.emit(report)

    # ------------------------------------------------------------------------------------------
    # Search and similar (search.py)
    # ------------------------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        """ "browse", "search" or "similar": what the grid shows."""
        return self.searcher.mode

    @property
    def search_text(self) -> str:
        return self.searcher.text

    def search(self, text: str) -> None:
        """Search now (as if typed and the debounce elapsed)."""
        self.searcher.search(text)

    @Slot()
    def clear_search(self) -> None:
        self.searcher.clear()

    def find_similar(self, row: Any) -> None:
        self.searcher.find_similar(row)

    @Slot()
    def find_similar_to_selection(self) -> None:
        rows = self.selected_photos()
        if rows:
            self.searcher.find_similar(rows[0])

    @Slot()
    def focus_search(self) -> None:
        self.search_box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_box.selectAll()

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if obj is self.search_box and event.type() == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_Escape:
            self.searcher.clear()
            self.grid.setFocus()
            return True
        return super().eventFilter(obj, event)

    def show_results(self, res: Results, label: str) -> None:
        self.model.set_photos(res.rows, res.scores if res.ranked else None)
        self.on_selection_changed()
        self.results_bar.say(label)
        self.stack.setCurrentWidget(self.grid_page)
        if res.rows:
            self.grid.scrollToTop()

    # ------------------------------------------------------------------------------------------
    # Selection, detail panel, context menu
    # ------------------------------------------------------------------------------------------
    def selected_photos(self) -> list[Any]:
        idx = sorted(self.grid.selectionModel().selectedIndexes(), key=lambda i: i.row())
        return [i.data(Role.ROW) for i in idx]

    def select_rows(self, rows: list[int]) -> None:
        sel = QItemSelection()
        for r in rows:
            ix = self.model.index(r)
            sel.select(ix, ix)
        sm = self.grid.selectionModel()
        sm.select(sel, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        if rows:
            sm.setCurrentIndex(self.model.index(rows[0]), QItemSelectionModel.SelectionFlag.NoUpdate)

    @Slot()
    def on_selection_changed(self, *_args: Any) -> None:
        rows = self.selected_photos()
        actions.update_photo_actions(self)
        if len(rows) == 1:
            self.detail.show_loading(rows[0])
            self._request_detail(rows[0].id)
            self.status.flash(str(rows[0].path))
        elif not rows:
            self.detail.show_nothing()
        else:
            self.detail.show_many(len(rows))

    def _request_detail(self, photo_id: int) -> None:
        s = self.settings

        def answered(d: Detail) -> None:
            self.detail.show_detail(d)
            self.detailLoaded.emit(d.photo.id)

        self.query.submit(
            DetailRequest(photo_id, s.suggest_count, s.score_threshold, s.suggest_place_tags),
            answered,
            lambda exc, _tb: self.detail.show_error(describe(exc)),
        )

    def refresh_detail(self) -> None:
        """Ask again for the shown photo's tags and suggestions (after a tag write, a model switch)."""
        if self.detail.photo_id is not None:
            self._request_detail(self.detail.photo_id)

    def build_context_menu(self) -> QMenu:
        return actions.photo_menu(self)

    @Slot(QPoint)
    def _on_grid_context_menu(self, pos: QPoint) -> None:
        ix = self.grid.indexAt(pos)
        if not ix.isValid():
            return
        if not self.grid.selectionModel().isSelected(ix):
            self.select_rows([ix.row()])
        self.context_menu = self.build_context_menu()
        self.context_menu.popup(self.grid.viewport().mapToGlobal(pos))

    @Slot(QModelIndex)
    def _on_grid_double_clicked(self, ix: QModelIndex) -> None:
        row = ix.data(Role.ROW)
        if row is not None:
            desktop.open_files([str(row.path)])

    @Slot()
    def show_selection_in_folder(self) -> None:
        desktop.show_in_folder(str(r.path) for r in self.selected_photos())

    @Slot()
    def open_selection(self) -> None:
        desktop.open_files(str(r.path) for r in self.selected_photos())

    @Slot(str, int, str)
    def _on_thumbnail_failed(self, path: str, size: int, reason: str) -> None:
        if size == PREVIEW_SIZE:
            self.detail.preview_failed(path, reason)

    # ---- tags and tools (tagging.py, tools.py) -------------------------------------------------
    @Slot()
    def suggest_tags_for_selection(self) -> None:
        rows = self.selected_photos()
        if rows:
            self.open_suggest_dialog(rows)

    @Slot(int)
    def _on_detail_suggest(self, photo_id: int) -> None:
        row = self.model.row_of(photo_id)
        if row is not None:
            self.open_suggest_dialog([self.model.photo_at(row)])

    def open_suggest_dialog(self, rows: list[Any]):
        return self.tagging.open_review(rows)

    @property
    def suggest_dialog(self):
        return self.tagging.dialog

    def show_models(self):
        return self.tools.show_models()

    def show_settings(self):
        return self.tools.show_settings()

    def show_training(self, command: Any = None, available: Any = None):
        return self.tools.show_training(command, available)

    @Slot()
    def on_size_released(self) -> None:
        self.apply_thumb_size(self.size_slider.value())

    def apply_thumb_size(self, size: int) -> None:
        size = int(size)
        self.settings.thumb_size = size
        if self.size_slider.value() != size:
            self.size_slider.setValue(size)
        self.delegate.thumb_size = size
        self.model.set_thumb_size(size)
        self.grid.doItemsLayout()

    @Slot()
    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About Attalos",
            "<b>Attalos Desktop</b><br>Tag and search your photos offline with a joint image–word embedding.",
        )

    # ------------------------------------------------------------------------------------------
    # Errors, readiness
    # ------------------------------------------------------------------------------------------
    @Slot(str, object, str)
    def _on_query_failed(self, title: str, exc: BaseException, tb: str) -> None:
        self.show_error(title, describe(exc), tb)

    def show_error(self, title: str, message: str, details: str = "") -> None:
        """Errors are never lost: status bar, a non-blocking message box, and ``errors`` for tests."""
        self.errors.append(f"{title}: {message}")
        self.status.say(f"{title}: {message}")
        self.errorShown.emit(f"{title}: {message}")
        if self._closing or os.environ.get("ATTALOS_GUI_NO_POPUPS"):
            return
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
        if details:
            box.setDetailedText(details)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        box.open()

    def is_settled(self) -> bool:
        """No work in flight and the visible thumbnails (and the preview) are shown."""
        if self.indexing or self.query.busy or self.searcher.pending:
            return False
        if self.stack.currentWidget() is self.grid_page and not self.model.thumbnails_ready(self.grid.visible_rows()):
            return False
        return self.detail.preview_ready()

    # ------------------------------------------------------------------------------------------
    # Drag and drop, close
    # ------------------------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if self._dropped_folders(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        if self._dropped_folders(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        folders = self._dropped_folders(event.mimeData())
        if folders:
            event.acceptProposedAction()
            self.add_folders(folders)

    @staticmethod
    def _dropped_folders(mime) -> list[str]:
        if mime is None or not mime.hasUrls():
            return []
        return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and os.path.isdir(u.toLocalFile())]

    def closeEvent(self, event) -> None:  # noqa: N802
        self.save_settings()
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop background work cleanly (cancel indexing, stop the threads)."""
        if self._closing:
            return
        self._closing = True
        self.tools.shutdown()
        if self.indexing:
            self.hide()  # do not look frozen while the child finishes its batch in flight
        self.indexer.shutdown()
        self.loader.shutdown()
        self.query.shutdown()

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(1280, 800)
