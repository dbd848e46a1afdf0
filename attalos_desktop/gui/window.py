"""The main window: sidebar, thumbnail grid, search, detail panel, status bar with indexing progress.

The window is a controller over passive widgets (grid.py, detail.py, dialogs.py). It never does the
work itself: indexing runs in an ``IndexWorker`` on a QThreadPool, queries and tag writes go to the
``QueryService`` thread, thumbnails come from the ``ThumbnailLoader``. The GUI thread's own Library
(``self.lib``) is used only for quick catalog reads (roots and their counts, failure counts).
"""

from __future__ import annotations

import html
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QModelIndex, QPoint, QSize, Qt, QThreadPool, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSlider,
    QSplitter,
    QStackedWidget,
    QStyle,
    QTableWidget,
    QTableWidgetItem,
    QToolBar,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from attalos_desktop.core.thumbnails import CACHE_ENV, ThumbnailCache
from attalos_desktop.gui.detail import PREVIEW_SIZE, DetailPanel
from attalos_desktop.gui.dialogs import ModelsDialog, SettingsDialog, SuggestDialog
from attalos_desktop.gui.grid import PhotoDelegate, PhotoGridModel, PhotoGridView, RowRole
from attalos_desktop.gui.settings import Settings
from attalos_desktop.gui.training import TrainingDialog
from attalos_desktop.gui.workers import IndexWorker, QueryClient, ThumbnailLoader

ViewKeyRole = Qt.ItemDataRole.UserRole + 20
SEARCH_DEBOUNCE_MS = 300
PHASES = {
    "scanning": "Looking for photos…",
    "comparing": "Checking for changes",
    "indexing": "Indexing",
    "saving": "Saving the index",
    "done": "Finishing",
}
SEARCH_LIMIT = 200
SIMILAR_LIMIT = 100
MAX_REVIEW = 50  # photos in one review dialog


def thumbnail_root(home: str | None) -> Path:
    """$ATTALOS_CACHE_DIR, else the library's cache dir by the core's rule (inside an explicit library)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    from attalos_desktop.core.paths import resolve_paths

    return resolve_paths(home).cache


def open_url(url: QUrl) -> bool:
    """Hand a URL to the desktop (a seam so tests can observe it without launching programs)."""
    return QDesktopServices.openUrl(url)


def show_items_in_file_manager(paths: list[str]) -> bool:
    """Ask the desktop's file manager to open the folders with these files selected.

    Uses the freedesktop FileManager1 D-Bus interface (Nautilus, Dolphin, Nemo, Caja, Thunar...);
    returns False where there is none (no session bus, Windows, macOS), and the caller then opens
    the folders instead.
    """
    if sys.platform != "linux":
        return False
    try:
        from PySide6.QtDBus import QDBusConnection, QDBusInterface
    except ImportError:
        return False
    bus = QDBusConnection.sessionBus()
    if not bus.isConnected():
        return False
    iface = QDBusInterface("org.freedesktop.FileManager1", "/org/freedesktop/FileManager1", "org.freedesktop.FileManager1", bus)
    if not iface.isValid():
        return False
    uris = [QUrl.fromLocalFile(p).toString() for p in paths]
    reply = iface.call("ShowItems", uris, "")
    return not reply.errorMessage()


def format_eta(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return ""
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d} left"
    return f"{s // 60}:{s % 60:02d} left"


class EmptyState(QWidget):
    """What a new user sees: an invitation to add a folder (button or drag-and-drop)."""

    def __init__(self, on_add, parent=None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.addStretch(2)
        icon = QLabel()
        icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_DirOpenIcon).pixmap(72, 72))
        icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(icon)
        title = QLabel("Your photo library is empty")
        tf = title.font()
        tf.setPointSizeF(tf.pointSizeF() * 1.6)
        tf.setBold(True)
        title.setFont(tf)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(title)
        sub = QLabel(
            "Add a folder of photos. Attalos indexes it on this computer, suggests tags for every photo "
            "and lets you search them by any word."
        )
        sub.setWordWrap(True)
        sub.setAlignment(Qt.AlignmentFlag.AlignCenter)
        sub.setStyleSheet("color:#8a8a8a;")
        lay.addWidget(sub)
        row = QHBoxLayout()
        row.addStretch(1)
        self.button = QPushButton("Add folder…")
        self.button.setObjectName("emptyAddFolder")
        self.button.setMinimumWidth(160)
        self.button.setMinimumHeight(34)
        self.button.clicked.connect(on_add)
        row.addWidget(self.button)
        row.addStretch(1)
        lay.addLayout(row)
        hint = QLabel("…or drop a folder onto this window")
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setStyleSheet("color:#999999;")
        lay.addWidget(hint)
        lay.addStretch(3)


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

    def __init__(self, home: str | None = None, settings: Settings | None = None, cache: ThumbnailCache | None = None) -> None:
        super().__init__()
        from attalos_desktop.core.library import Library

        self.home = home
        self.settings = settings if settings is not None else Settings.load()
        self.lib = Library.open(home=home)  # read side, GUI thread: quick catalog reads only
        self.cache = cache if cache is not None else ThumbnailCache(thumbnail_root(home))
        self.loader = ThumbnailLoader(self.cache, threads=2, parent=self)
        self.query = QueryClient(home, self)
        self.query.reply.connect(self._on_reply)
        self.query.failed.connect(self._on_query_failed)
        self.index_pool = QThreadPool(self)
        self.index_pool.setMaxThreadCount(1)
        self.index_worker: IndexWorker | None = None
        self._queued_index: list[list[str] | None] = []
        self.errors: list[str] = []
        self._roots: list[Any] = []
        self._failure_count = 0
        self._words: list[str] | None = None
        self._photos_rid = 0
        self._search_rid = 0
        self._similar_rid = 0
        self._detail_rid = 0
        self._suggest_rids: dict[int, SuggestDialog] = {}
        self._models_rid = 0
        self._failures_rid = 0
        self.browse_key = "all"  # "all" | "root:<id>" | "problems"
        self.mode = "browse"  # "browse" | "search" | "similar"
        self.search_text = ""
        self.suggest_dialog: SuggestDialog | None = None
        self.models_dialog: ModelsDialog | None = None
        self.settings_dialog: SettingsDialog | None = None
        self.training_dialog: TrainingDialog | None = None  # made on first use
        self.sidecars_enabled: bool | None = None  # the library's setting, once read
        self.context_menu: QMenu | None = None
        self._last_sidebar_refresh = 0.0
        self._index_started = 0.0
        self._closing = False

        self.setWindowTitle("Attalos")
        self.setAcceptDrops(True)
        self._build_ui()
        self._build_actions()
        self._restore_settings()
        self.refresh_sidebar()
        self._restore_view()
        self.query.request("completion")

    # ------------------------------------------------------------------------------------------
    # UI construction
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
        self.grid.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.grid.doubleClicked.connect(self._on_grid_double_clicked)

        self.results_bar = QWidget()
        rb = QHBoxLayout(self.results_bar)
        rb.setContentsMargins(8, 4, 8, 4)
        self.results_label = QLabel()
        self.results_label.setObjectName("resultsLabel")
        rb.addWidget(self.results_label, 1)
        back = QToolButton()
        back.setText("✕ Back to browsing")
        back.clicked.connect(self.clear_search)
        rb.addWidget(back)
        self.results_bar.setVisible(False)
        self.results_bar.setStyleSheet("background-color: rgba(47,111,214,30);")

        grid_page = QWidget()
        gl = QVBoxLayout(grid_page)
        gl.setContentsMargins(0, 0, 0, 0)
        gl.setSpacing(0)
        gl.addWidget(self.results_bar)
        gl.addWidget(self.grid, 1)

        self.empty = EmptyState(self.add_folder_dialog)

        self.problems = QTableWidget(0, 2)
        self.problems.setObjectName("problemsTable")
        self.problems.setHorizontalHeaderLabels(["File", "Reason"])
        self.problems.verticalHeader().setVisible(False)
        self.problems.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.problems.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.problems.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.problems.horizontalHeader().setStretchLastSection(True)
        self.problems.setColumnWidth(0, 420)
        self.problems.cellDoubleClicked.connect(self._on_problem_double_clicked)
        problems_page = QWidget()
        pl = QVBoxLayout(problems_page)
        pl.setContentsMargins(0, 0, 0, 0)
        self.problems_label = QLabel()
        self.problems_label.setContentsMargins(8, 6, 8, 6)
        pl.addWidget(self.problems_label)
        pl.addWidget(self.problems, 1)

        self.stack = QStackedWidget()
        self.stack.addWidget(grid_page)
        self.stack.addWidget(self.empty)
        self.stack.addWidget(problems_page)
        self.grid_page, self.empty_page, self.problems_page = grid_page, self.empty, problems_page

        self.sidebar = QTreeWidget()
        self.sidebar.setObjectName("sidebar")
        self.sidebar.setHeaderHidden(True)
        self.sidebar.setRootIsDecorated(False)
        self.sidebar.setIndentation(10)
        self.sidebar.setMinimumWidth(180)
        self.sidebar.itemSelectionChanged.connect(self._on_sidebar_changed)
        self.sidebar.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.sidebar.customContextMenuRequested.connect(self._on_sidebar_context_menu)

        self.detail = DetailPanel(self.loader)
        self.detail.suggestRequested.connect(self._on_detail_suggest)
        self.detail.removeTagRequested.connect(self._on_remove_tag)
        self.loader.signals.failed.connect(self._on_thumbnail_failed)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(self.stack)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setStretchFactor(2, 0)
        self.splitter.setSizes([200, 760, 300])
        self.splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.splitter)

        # Toolbar: add folder, search, thumbnail size.
        tb = QToolBar("Main")
        tb.setObjectName("mainToolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.addToolBar(tb)
        self.toolbar = tb
        self.search_box = QLineEdit()
        self.search_box.setObjectName("searchBox")
        self.search_box.setPlaceholderText("Search photos by any word…  (Ctrl+F)")
        self.search_box.setClearButtonEnabled(True)
        self.search_box.setMinimumWidth(320)
        self.search_box.textEdited.connect(self._on_search_edited)
        self.search_box.returnPressed.connect(self._run_search_now)
        self.search_box.installEventFilter(self)
        self.search_timer = QTimer(self)
        self.search_timer.setSingleShot(True)
        self.search_timer.setInterval(SEARCH_DEBOUNCE_MS)
        self.search_timer.timeout.connect(self._run_search_now)
        self.size_slider = QSlider(Qt.Orientation.Horizontal)
        self.size_slider.setRange(96, 320)
        self.size_slider.setSingleStep(16)
        self.size_slider.setValue(ts)
        self.size_slider.setFixedWidth(120)
        self.size_slider.setToolTip("Thumbnail size")
        self.size_slider.sliderReleased.connect(self._on_size_released)
        self._toolbar_widgets = (self.search_box, self.size_slider)

        # Status bar: message, progress, ETA, cancel, photo count.
        sb = self.statusBar()
        self.status_label = QLabel("")
        self.status_label.setObjectName("statusLabel")
        sb.addWidget(self.status_label, 1)
        self.progress = QProgressBar()
        self.progress.setObjectName("indexProgress")
        self.progress.setFixedWidth(200)
        self.progress.setTextVisible(True)
        self.eta_label = QLabel("")
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setObjectName("cancelIndex")
        self.cancel_btn.clicked.connect(self.cancel_index)
        self.count_label = QLabel("")
        self.count_label.setObjectName("countLabel")
        for w in (self.progress, self.eta_label, self.cancel_btn):
            sb.addPermanentWidget(w)
            w.setVisible(False)
        sb.addPermanentWidget(self.count_label)

    def _build_actions(self) -> None:
        mb = self.menuBar()
        m_file = mb.addMenu("&File")
        self.act_add = QAction("&Add folder…", self, shortcut=QKeySequence.StandardKey.Open, triggered=self.add_folder_dialog)
        self.act_rescan = QAction("&Rescan library", self, shortcut=QKeySequence("F5"), triggered=self.rescan)
        self.act_quit = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit, triggered=self.close)
        m_file.addAction(self.act_add)
        m_file.addAction(self.act_rescan)
        m_file.addSeparator()
        m_file.addAction(self.act_quit)

        m_edit = mb.addMenu("&Edit")
        self.act_find = QAction("&Find…", self, shortcut=QKeySequence.StandardKey.Find, triggered=self.focus_search)
        self.act_select_all = QAction("Select &all", self, shortcut=QKeySequence.StandardKey.SelectAll, triggered=self.grid.selectAll)
        m_edit.addAction(self.act_find)
        m_edit.addAction(self.act_select_all)

        m_photo = mb.addMenu("&Photo")
        self.act_suggest = QAction("Suggest &tags…", self, shortcut=QKeySequence("Ctrl+T"), triggered=self.suggest_tags_for_selection)
        self.act_similar = QAction("Find &similar photos", self, shortcut=QKeySequence("Ctrl+Shift+F"), triggered=self.find_similar_to_selection)
        self.act_show = QAction("Show in &folder", self, triggered=self.show_selection_in_folder)
        self.act_open = QAction("&Open with default application", self, shortcut=QKeySequence("Ctrl+Return"), triggered=self.open_selection)
        for a in (self.act_suggest, self.act_similar, self.act_show, self.act_open):
            m_photo.addAction(a)

        m_tools = mb.addMenu("&Tools")
        self.act_models = QAction("&Models…", self, triggered=self.show_models)
        self.act_settings = QAction("&Settings…", self, shortcut=QKeySequence.StandardKey.Preferences, triggered=self.show_settings)
        self.act_train = QAction("&Train on my tags…", self, triggered=self.show_training)
        m_tools.addAction(self.act_models)
        m_tools.addAction(self.act_train)
        m_tools.addSeparator()
        m_tools.addAction(self.act_settings)

        m_help = mb.addMenu("&Help")
        m_help.addAction(QAction("&About Attalos", self, triggered=self.show_about))

        self.toolbar.addAction(self.act_add)
        self.toolbar.addSeparator()
        self.toolbar.addWidget(self.search_box)
        spacer = QWidget()
        spacer.setFixedWidth(12)
        self.toolbar.addWidget(spacer)
        self.toolbar.addWidget(QLabel("Size "))
        self.toolbar.addWidget(self.size_slider)
        self.toolbar.addSeparator()
        self.toolbar.addAction(self.act_models)

        esc = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        esc.setContext(Qt.ShortcutContext.WindowShortcut)
        esc.activated.connect(self._on_escape)
        self._update_photo_actions()

    # ------------------------------------------------------------------------------------------
    # Settings
    # ------------------------------------------------------------------------------------------
    def _restore_settings(self) -> None:
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
        key = self.browse_key
        if key.startswith("root:"):
            root = self._root_by_id(key[5:])
            key = f"root:{root.path}" if root is not None else "all"
        s.last_view = key
        s.thumb_size = self.model.thumb_size
        try:
            s.save()
        except OSError as exc:
            self.errors.append(f"could not save settings: {exc}")

    def _restore_view(self) -> None:
        key = self.settings.last_view or "all"
        if key.startswith("root:"):
            path = key[5:]
            root = next((r for r in self._roots if str(r.path) == path), None)
            key = f"root:{root.id}" if root is not None else "all"
        elif key not in ("all", "problems"):
            key = "all"
        self.select_view(key)

    # ------------------------------------------------------------------------------------------
    # Sidebar and views
    # ------------------------------------------------------------------------------------------
    def _root_by_id(self, rid: Any) -> Any:
        return next((r for r in self._roots if str(r.id) == str(rid)), None)

    def refresh_sidebar(self) -> None:
        """Re-read roots, counts and the failure count (quick reads on the GUI thread's Library)."""
        try:
            self._roots = list(self.lib.roots())
            self._failure_count = len(self.lib.failures())
        except Exception as exc:  # noqa: BLE001
            self._report_error("Could not read the library", exc)
            return
        self._last_sidebar_refresh = time.monotonic()
        current = self.browse_key
        self.sidebar.blockSignals(True)
        self.sidebar.clear()
        total = sum(int(r.photo_count) for r in self._roots)
        lib_head = QTreeWidgetItem(["LIBRARY"])
        lib_head.setFlags(Qt.ItemFlag.ItemIsEnabled)
        self._style_heading(lib_head)
        self.sidebar.addTopLevelItem(lib_head)
        self._add_sidebar_item(f"All photos  ({total:,})", "all")
        if self._roots:
            head = QTreeWidgetItem(["FOLDERS"])
            head.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self._style_heading(head)
            self.sidebar.addTopLevelItem(head)
            for r in self._roots:
                name = os.path.basename(str(r.path).rstrip("/\\")) or str(r.path)
                it = self._add_sidebar_item(f"{name}  ({int(r.photo_count):,})", f"root:{r.id}")
                it.setToolTip(0, str(r.path))
        spacer = QTreeWidgetItem([""])
        spacer.setFlags(Qt.ItemFlag.NoItemFlags)
        self.sidebar.addTopLevelItem(spacer)
        label = f"Problems  ({self._failure_count:,})" if self._failure_count else "Problems"
        self._add_sidebar_item(label, "problems")
        self._select_sidebar_key(current)
        self.sidebar.blockSignals(False)
        self._update_empty_state()

    @staticmethod
    def _style_heading(item: QTreeWidgetItem) -> None:
        f = item.font(0)
        f.setBold(True)
        f.setPointSizeF(max(7.0, f.pointSizeF() * 0.85))
        item.setFont(0, f)
        item.setForeground(0, Qt.GlobalColor.gray)

    def _add_sidebar_item(self, text: str, key: str) -> QTreeWidgetItem:
        it = QTreeWidgetItem(["  " + text])
        it.setData(0, ViewKeyRole, key)
        self.sidebar.addTopLevelItem(it)
        return it

    def sidebar_items(self) -> dict[str, str]:
        """{view key: label} of the sidebar (what a user reads there)."""
        out = {}
        for i in range(self.sidebar.topLevelItemCount()):
            it = self.sidebar.topLevelItem(i)
            key = it.data(0, ViewKeyRole)
            if key:
                out[str(key)] = it.text(0).strip()
        return out

    def _select_sidebar_key(self, key: str) -> None:
        for i in range(self.sidebar.topLevelItemCount()):
            it = self.sidebar.topLevelItem(i)
            if it.data(0, ViewKeyRole) == key:
                self.sidebar.setCurrentItem(it)
                return

    @Slot()
    def _on_sidebar_changed(self) -> None:
        items = self.sidebar.selectedItems()
        if not items:
            return
        key = items[0].data(0, ViewKeyRole)
        if key:
            self.select_view(str(key), from_sidebar=True)

    def select_view(self, key: str, from_sidebar: bool = False) -> None:
        """Browse "all", "root:<id>" or "problems" (leaving any search or similar results)."""
        if key.startswith("root:") and self._root_by_id(key[5:]) is None:
            key = "all"
        self.browse_key = key
        self.mode = "browse"
        self.search_text = ""
        self.search_box.clear()
        self.search_timer.stop()
        self.results_bar.setVisible(False)
        if not from_sidebar:
            self.sidebar.blockSignals(True)
            self._select_sidebar_key(key)
            self.sidebar.blockSignals(False)
        if key == "problems":
            self.detail.show_nothing()
            self.stack.setCurrentWidget(self.problems_page)
            self.problems_label.setText("Loading…")
            self._failures_rid = self.query.request("failures")
            return
        self._load_browse_photos()

    def _load_browse_photos(self) -> None:
        root_id = self._root_key_id()
        self._photos_rid = self.query.request("photos", root_id)
        self._update_empty_state()

    def _root_key_id(self) -> Any:
        if self.browse_key.startswith("root:"):
            root = self._root_by_id(self.browse_key[5:])
            return root.id if root is not None else None
        return None

    def _update_empty_state(self) -> None:
        empty = not self._roots and self.index_worker is None and self.model.rowCount() == 0
        if self.browse_key == "problems" and self.mode == "browse":
            return
        target = self.empty_page if empty and self.mode == "browse" else self.grid_page
        if self.stack.currentWidget() is not target:
            self.stack.setCurrentWidget(target)

    def is_empty_state(self) -> bool:
        return self.stack.currentWidget() is self.empty_page

    @Slot(int)
    def _on_count_changed(self, n: int) -> None:
        total = sum(int(r.photo_count) for r in self._roots)
        if self.mode == "browse":
            self.count_label.setText(f"{n:,} photos")
        else:
            self.count_label.setText(f"{n:,} results · {total:,} photos")
        self._update_photo_actions()

    # ------------------------------------------------------------------------------------------
    # Indexing
    # ------------------------------------------------------------------------------------------
    @Slot()
    def add_folder_dialog(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Add a folder of photos", str(Path.home()))
        if d:
            self.add_folders([d])

    def add_folders(self, paths: list[str]) -> None:
        paths = [str(Path(p).resolve()) for p in paths if Path(p).is_dir()]
        if not paths:
            return
        self.start_index(paths, "Indexing")

    @Slot()
    def rescan(self) -> None:
        self.start_index(None, "Updating")

    def start_index(self, paths: list[str] | None, label: str = "Indexing") -> None:
        if self.index_worker is not None:
            self._queued_index.append(paths)
            self._set_status(f"{label} queued after the current run")
            return
        w = IndexWorker(self.home, paths, label)
        w.signals.progress.connect(self._on_index_progress)
        w.signals.photos.connect(self._on_index_photos)
        w.signals.result.connect(self._on_index_result)
        w.signals.error.connect(self._on_index_error)
        w.signals.finished.connect(self._on_index_finished)
        self.index_worker = w
        self._index_started = time.monotonic()
        self.progress.setRange(0, 0)  # busy until the first progress report
        self.progress.setFormat("%v / %m")
        for wdg in (self.progress, self.eta_label, self.cancel_btn):
            wdg.setVisible(True)
        self.cancel_btn.setEnabled(True)
        self.eta_label.setText("")
        where = ", ".join(os.path.basename(p) or p for p in paths) if paths else "all folders"
        self._set_status(f"{label} {where}…")
        if self.browse_key != "problems" and self.mode == "browse":
            self.stack.setCurrentWidget(self.grid_page)
        self.act_rescan.setEnabled(False)
        self.index_pool.start(w)

    @Slot()
    def cancel_index(self) -> None:
        if self.index_worker is not None:
            self.index_worker.cancel()
            self.cancel_btn.setEnabled(False)
            self._set_status("Cancelling after the batch in flight…")

    @property
    def indexing(self) -> bool:
        return self.index_worker is not None

    @Slot(object)
    def _on_index_progress(self, p: Any) -> None:
        if self.index_worker is None:
            return
        total = int(getattr(p, "total", 0) or 0)
        done = int(getattr(p, "done", 0) or 0)
        phase = str(getattr(p, "phase", "") or "")
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))
        else:
            self.progress.setRange(0, 0)
        rate = getattr(p, "rate", None)
        parts = []
        if rate:
            parts.append(f"{float(rate):.1f}/s")
        eta = format_eta(getattr(p, "eta_s", None))
        if eta:
            parts.append(eta)
        self.eta_label.setText(" · ".join(parts))
        if self.index_worker.cancel_event.is_set():
            return
        cur = getattr(p, "current", None)
        label = self.index_worker.label
        msg = PHASES.get(phase, label)
        if phase == "indexing":
            msg = label  # "Indexing", "Updating" (a rescan) or "Re-embedding" (a model switch)
        if total and phase in ("indexing", "saving"):
            msg += f" {done:,} of {total:,}"
        elif total and phase == "comparing":
            msg += f" ({total:,} files)"
        if cur:
            msg += f" — {os.path.basename(str(cur))}"
        self._set_status(msg)

    @Slot(list)
    def _on_index_photos(self, rows: list) -> None:
        if self.mode == "browse" and self.browse_key != "problems":
            rid = self._root_key_id()
            if rid is not None:
                rows = [r for r in rows if str(r.root_id) == str(rid)]
            if rows:
                self.model.append_photos(rows)
                if self.stack.currentWidget() is self.empty_page:
                    self.stack.setCurrentWidget(self.grid_page)
        if time.monotonic() - self._last_sidebar_refresh > 1.0:
            self.refresh_sidebar()

    @Slot(object)
    def _on_index_result(self, report: Any) -> None:
        cancelled = bool(getattr(report, "cancelled", False))
        bits = []
        for name, label in (
            ("new", "new"),
            ("changed", "updated"),
            ("moved", "moved"),
            ("removed", "removed"),
            ("failed", "could not be read"),
        ):
            v = getattr(report, name, None)
            if isinstance(v, int) and v:
                bits.append(f"{v:,} {label}")
        took = time.monotonic() - self._index_started
        summary = ", ".join(bits) if bits else "nothing changed"
        if cancelled:
            self._set_status(f"Indexing cancelled ({summary}). Rescan (F5) resumes where it stopped.")
        else:
            self._set_status(f"Indexing finished in {took:.1f} s: {summary}.")
        self._last_report = report
        self._index_ok = True

    @Slot(str, str)
    def _on_index_error(self, message: str, tb: str) -> None:
        self._index_ok = False
        self._last_report = None
        self._show_error("Indexing failed", message, tb)

    @Slot()
    def _on_index_finished(self) -> None:
        report = getattr(self, "_last_report", None)
        self.index_worker = None
        for wdg in (self.progress, self.eta_label, self.cancel_btn):
            wdg.setVisible(False)
        self.act_rescan.setEnabled(True)
        if self._closing:
            return
        self.query.request("completion")
        self.refresh_sidebar()
        if self.mode == "browse":
            if self.browse_key == "problems":
                self.select_view("problems")
            else:
                self._load_browse_photos()
        if self._queued_index:
            paths = self._queued_index.pop(0)
            self.start_index(paths, "Indexing" if paths else "Updating")
        self.indexFinished.emit(report)

    # ------------------------------------------------------------------------------------------
    # Search and similar
    # ------------------------------------------------------------------------------------------
    @Slot()
    def focus_search(self) -> None:
        self.search_box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_box.selectAll()

    @Slot(str)
    def _on_search_edited(self, text: str) -> None:
        if text.strip():
            self.search_timer.start()
        else:
            self.search_timer.stop()
            self.clear_search()

    def search(self, text: str) -> None:
        """Search now (as if typed and the debounce elapsed)."""
        self.search_box.setText(text)
        self._run_search_now()

    @Slot()
    def _run_search_now(self) -> None:
        self.search_timer.stop()
        text = self.search_box.text().strip()
        if not text:
            self.clear_search()
            return
        if text == self.search_text and self.mode == "search":
            return
        self.mode = "search"
        self.search_text = text
        self.results_bar.setVisible(True)
        self.results_label.setText(f"Searching for “{html.escape(text)}”…")
        self.stack.setCurrentWidget(self.grid_page)
        self._search_rid = self.query.request("search", (text, SEARCH_LIMIT))

    @Slot()
    def clear_search(self) -> None:
        was = self.mode
        self.search_timer.stop()
        if self.search_box.text():
            self.search_box.clear()
        if was != "browse":
            self.select_view(self.browse_key)

    @Slot()
    def _on_escape(self) -> None:
        if self.mode != "browse" or self.search_box.text():
            self.clear_search()

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        from PySide6.QtCore import QEvent

        if obj is self.search_box and event.type() == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_Escape:
            self.clear_search()
            self.grid.setFocus()
            return True
        return super().eventFilter(obj, event)

    def _show_results(self, rows: list[Any], hits: list[Any], label: str) -> None:
        scores = [float(h.score) for h in hits]
        self.model.set_photos(rows, scores)
        self._on_selection_changed()
        self.results_label.setText(label)
        self.results_bar.setVisible(True)
        self.stack.setCurrentWidget(self.grid_page)
        if rows:
            self.grid.scrollToTop()

    @Slot()
    def find_similar_to_selection(self) -> None:
        rows = self.selected_photos()
        if rows:
            self.find_similar(rows[0])

    def find_similar(self, row: Any) -> None:
        self.search_timer.stop()
        self.search_box.clear()
        self.mode = "similar"
        self.search_text = ""
        self._similar_source = row
        self.results_bar.setVisible(True)
        self.results_label.setText(f"Looking for photos like {html.escape(os.path.basename(str(row.path)))}…")
        self._similar_rid = self.query.request("similar", (row.id, SIMILAR_LIMIT))

    # ------------------------------------------------------------------------------------------
    # Selection, detail panel, context menu
    # ------------------------------------------------------------------------------------------
    def selected_photos(self) -> list[Any]:
        idx = sorted(self.grid.selectionModel().selectedIndexes(), key=lambda i: i.row())
        return [i.data(RowRole) for i in idx]

    def select_rows(self, rows: list[int]) -> None:
        from PySide6.QtCore import QItemSelection, QItemSelectionModel

        sel = QItemSelection()
        for r in rows:
            ix = self.model.index(r)
            sel.select(ix, ix)
        sm = self.grid.selectionModel()
        sm.select(sel, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        if rows:
            sm.setCurrentIndex(self.model.index(rows[0]), QItemSelectionModel.SelectionFlag.NoUpdate)

    @Slot()
    def _on_selection_changed(self, *_args) -> None:
        rows = self.selected_photos()
        self._update_photo_actions()
        if len(rows) == 1:
            r = rows[0]
            self.detail.show_loading(r)
            self._detail_rid = self.query.request("detail", (r.id, self.settings.suggest_count, self.settings.score_threshold))
            self.statusBar().showMessage(str(r.path), 4000)
        elif not rows:
            self.detail.show_nothing()
        else:
            self.detail.show_nothing()
            self.detail.title.setText(f"{len(rows)} photos selected")
            self.detail.preview.setText(f"<span style='color:#888888'>{len(rows)} photos selected</span>")

    def _update_photo_actions(self) -> None:
        n = len(self.grid.selectionModel().selectedIndexes()) if self.grid.selectionModel() else 0
        for a in (self.act_suggest, self.act_show, self.act_open):
            a.setEnabled(n >= 1)
        self.act_similar.setEnabled(n == 1)

    def build_context_menu(self) -> QMenu:
        menu = QMenu(self)
        menu.setObjectName("photoContextMenu")
        n = len(self.selected_photos())
        self.act_suggest.setText("Suggest tags…" if n <= 1 else f"Suggest tags for {n} photos…")
        menu.addAction(self.act_suggest)
        menu.addAction(self.act_similar)
        menu.addSeparator()
        menu.addAction(self.act_show)
        menu.addAction(self.act_open)
        return menu

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
        row = ix.data(RowRole)
        if row is not None:
            open_url(QUrl.fromLocalFile(str(row.path)))

    @Slot()
    def show_selection_in_folder(self) -> None:
        rows = self.selected_photos()[:20]
        if rows and show_items_in_file_manager([str(r.path) for r in rows]):
            return
        for folder in dict.fromkeys(os.path.dirname(str(r.path)) for r in rows):
            open_url(QUrl.fromLocalFile(folder))

    @Slot()
    def open_selection(self) -> None:
        for r in self.selected_photos()[:20]:
            open_url(QUrl.fromLocalFile(str(r.path)))

    @Slot(str, int, str)
    def _on_thumbnail_failed(self, path: str, size: int, reason: str) -> None:
        if size == PREVIEW_SIZE:
            self.detail.preview_failed(path, reason)

    # ------------------------------------------------------------------------------------------
    # Suggest tags (review)
    # ------------------------------------------------------------------------------------------
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

    def open_suggest_dialog(self, rows: list[Any]) -> SuggestDialog:
        total = len(rows)
        rows = rows[:MAX_REVIEW]
        dlg = SuggestDialog(rows, self.model.pixmap_for, self._words, self)
        if total > len(rows):
            dlg.setWindowTitle(f"Suggest tags — the first {len(rows)} of {total} selected photos")
        dlg.reviewed.connect(self._on_reviewed)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        rid = self.query.request("suggest", ([r.id for r in rows], self.settings.suggest_count, self.settings.score_threshold))
        self._suggest_rids[rid] = dlg
        self.suggest_dialog = dlg
        if self._words is None:
            self.query.request("completion")
        dlg.open()
        return dlg

    @Slot(int, str)
    def _on_remove_tag(self, photo_id: int, tag: str) -> None:
        self._set_status(f"Removing the tag “{tag}”…")
        self.query.request("remove_tags", (photo_id, [tag]))

    @Slot(list)
    def _on_reviewed(self, decisions: list) -> None:
        if not decisions:
            return
        self._set_status("Saving tags…")
        self.query.request("review", decisions)

    # ------------------------------------------------------------------------------------------
    # Models, settings, problems
    # ------------------------------------------------------------------------------------------
    @Slot()
    def show_models(self) -> ModelsDialog:
        if self.models_dialog is None:
            self.models_dialog = ModelsDialog(self)
            self.models_dialog.modelChosen.connect(self._on_model_chosen)
        self.models_dialog.set_busy(self.indexing)
        self._models_rid = self.query.request("models")
        self.models_dialog.show()
        self.models_dialog.raise_()
        return self.models_dialog

    @Slot(str)
    def _on_model_chosen(self, path: str) -> None:
        if self.indexing:
            self._show_error("Model switch", "Wait for indexing to finish (or cancel it) before switching models.")
            return
        if self.models_dialog is not None:
            self.models_dialog.set_busy(True, "Switching model…")
        self._set_status(f"Switching to the model in {path}…")
        self.query.request("set_model", path)

    @Slot()
    def show_settings(self) -> SettingsDialog:
        """Open the Settings dialog (non-modal to the event loop: replies keep arriving while it is open)."""
        if self.settings_dialog is not None:
            try:
                self.settings_dialog.raise_()
                return self.settings_dialog
            except RuntimeError:
                self.settings_dialog = None
        dlg = SettingsDialog(self.settings, self, sidecars=None)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dlg.accepted.connect(self._on_settings_accepted)
        dlg.destroyed.connect(self._on_settings_destroyed)
        self.settings_dialog = dlg
        self.query.request("get_sidecars")  # the library's setting (the CLI obeys it too)
        dlg.open()
        return dlg

    @Slot()
    def _on_settings_destroyed(self) -> None:
        self.settings_dialog = None

    @Slot()
    def _on_settings_accepted(self) -> None:
        dlg = self.settings_dialog
        if dlg is None:
            return
        dlg.apply()
        self.apply_thumb_size(self.settings.thumb_size)
        self.save_settings()
        want = dlg.sidecars_choice()
        if want is not None and want != self.sidecars_enabled:
            self.query.request("set_sidecars", want)
        rows = self.selected_photos()
        if len(rows) == 1:
            self._on_selection_changed()

    @Slot()
    def show_training(self, command: Any = None, available: Any = None) -> TrainingDialog:
        """Tools → Train on my tags…: the dialog runs the trainer as a child process.

        ``command`` (home -> argv) and ``available`` (() -> bool) replace the trainer command and the
        PyTorch check of a new dialog (tests run a fake trainer that speaks the same protocol).
        """
        if self.training_dialog is not None and (command is not None or available is not None):
            if self.training_dialog.running:
                return self.training_dialog
            self.training_dialog.deleteLater()
            self.training_dialog = None
        if self.training_dialog is not None:
            try:
                self.training_dialog.show()
                self.training_dialog.raise_()
                self.query.request("training_summary")
                return self.training_dialog
            except RuntimeError:
                self.training_dialog = None
        dlg = TrainingDialog(self.home, self, command=command, available=available)
        dlg.modelChosen.connect(self._on_trained_model_chosen)
        self.modelSwitched.connect(dlg.on_model_switched)
        self.training_dialog = dlg
        self.query.request("training_summary")
        dlg.show()
        return dlg

    @Slot(str)
    def _on_trained_model_chosen(self, path: str) -> None:
        if self.indexing:
            self._show_error("Model switch", "Wait for indexing to finish (or cancel it) before switching models.")
            if self.training_dialog is not None:
                self.training_dialog.on_switch_refused()
            return
        self._set_status(f"Switching to your model in {path}…")
        self.query.request("set_model", path)

    @Slot()
    def _on_size_released(self) -> None:
        self.apply_thumb_size(self.size_slider.value())

    def apply_thumb_size(self, size: int) -> None:
        size = int(size)
        self.settings.thumb_size = size
        if self.size_slider.value() != size:
            self.size_slider.setValue(size)
        self.delegate.thumb_size = size
        self.model.set_thumb_size(size)
        self.grid.doItemsLayout()

    @Slot(int, int)
    def _on_problem_double_clicked(self, row: int, _col: int) -> None:
        item = self.problems.item(row, 0)
        if item is not None:
            open_url(QUrl.fromLocalFile(os.path.dirname(item.text())))

    def _fill_problems(self, failures: list[Any]) -> None:
        self.problems.setRowCount(len(failures))
        for i, f in enumerate(failures):
            a = QTableWidgetItem(str(f.path))
            a.setToolTip(str(f.path))
            b = QTableWidgetItem(str(f.reason))
            b.setToolTip(str(f.reason))
            self.problems.setItem(i, 0, a)
            self.problems.setItem(i, 1, b)
        self.problems_label.setText(
            f"{len(failures):,} file(s) could not be indexed. They are skipped; fix or remove them and rescan (F5)."
            if failures
            else "No problems: every file found was indexed."
        )

    def problem_rows(self) -> list[tuple[str, str]]:
        return [(self.problems.item(i, 0).text(), self.problems.item(i, 1).text()) for i in range(self.problems.rowCount())]

    @Slot(QPoint)
    def _on_sidebar_context_menu(self, pos: QPoint) -> None:
        it = self.sidebar.itemAt(pos)
        key = it.data(0, ViewKeyRole) if it is not None else None
        menu = QMenu(self)
        menu.addAction(self.act_add)
        menu.addAction(self.act_rescan)
        if key and str(key).startswith("root:"):
            root = self._root_by_id(str(key)[5:])
            if root is not None:
                act = menu.addAction("Remove folder from library")
                act.setData(root.id)
                act.triggered.connect(self._on_remove_root_triggered)
        self.context_menu = menu
        menu.popup(self.sidebar.viewport().mapToGlobal(pos))

    @Slot()
    def _on_remove_root_triggered(self) -> None:
        act = self.sender()
        if act is None or self.indexing:
            return
        self.query.request("remove_root", act.data())

    @Slot()
    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About Attalos",
            "<b>Attalos Desktop</b><br>Tag and search your photos offline with a joint image–word embedding.",
        )

    # ------------------------------------------------------------------------------------------
    # Query replies (GUI thread)
    # ------------------------------------------------------------------------------------------
    @Slot(int, str, object)
    def _on_reply(self, rid: int, kind: str, result: object) -> None:
        if self._closing:
            return
        if kind == "photos":
            if rid == self._photos_rid and self.mode == "browse":
                self._show_browse_rows(result)  # type: ignore[arg-type]
                self._update_empty_state()
                self.photosLoaded.emit()
        elif kind == "search":
            if rid == self._search_rid and self.mode == "search":
                text, rows, hits = result  # type: ignore[misc]
                label = f"{len(rows):,} photos ranked for “{html.escape(text)}” — best first. Esc returns to browsing."
                self._show_results(rows, hits, label)
                self.searchFinished.emit(text)
        elif kind == "similar":
            if rid == self._similar_rid and self.mode == "similar":
                pid, rows, hits = result  # type: ignore[misc]
                src = getattr(self, "_similar_source", None)
                name = os.path.basename(str(src.path)) if src is not None else f"#{pid}"
                self._show_results(rows, hits, f"{len(rows):,} photos similar to {html.escape(name)}. Esc returns to browsing.")
                self.similarFinished.emit(pid)
        elif kind == "detail":
            if rid == self._detail_rid:
                self.detail.show_detail(result)  # type: ignore[arg-type]
                self.detailLoaded.emit(result.photo.id)  # type: ignore[attr-defined]
        elif kind == "suggest":
            dlg = self._suggest_rids.pop(rid, None)
            if dlg is not None:
                try:
                    dlg.set_suggestions(result)  # type: ignore[arg-type]
                except RuntimeError:
                    pass  # the dialog was closed and deleted meanwhile
        elif kind == "review":
            ids, warnings = result  # type: ignore[misc]
            self._set_status(self._with_warnings(f"Saved tags for {len(ids)} photo(s).", warnings))
            self.query.request("completion")
            # Always refresh the shown photo: its personal suggestions (votes of the user's tagged
            # neighbours) change when similar photos get tags, not only when it gets tags itself.
            self._refresh_detail()
            self.tagsSaved.emit(list(ids))
        elif kind == "remove_tags":
            pid, warnings = result  # type: ignore[misc]
            self._set_status(self._with_warnings("Tag removed.", warnings))
            self._refresh_detail()
            self.tagsSaved.emit([pid])
        elif kind == "get_sidecars":
            self.sidecars_enabled = bool(result)
            if self.settings_dialog is not None:
                try:
                    self.settings_dialog.set_sidecars(bool(result))
                except RuntimeError:
                    self.settings_dialog = None
        elif kind == "set_sidecars":
            self.sidecars_enabled = bool(result)
            self._set_status(
                "Tags are written to XMP sidecars next to the photos."
                if result
                else "Tags are kept in the library only (no XMP sidecars)."
            )
            self.sidecarsChanged.emit(bool(result))
        elif kind == "training_summary":
            if self.training_dialog is not None:
                try:
                    self.training_dialog.set_summary(result)
                except RuntimeError:
                    self.training_dialog = None
        elif kind == "completion":
            self._words = list(result)  # type: ignore[arg-type]
            if self.suggest_dialog is not None:
                try:
                    self.suggest_dialog.set_words(self._words)
                except RuntimeError:
                    self.suggest_dialog = None
        elif kind == "failures":
            if rid == self._failures_rid:
                self._fill_problems(result)  # type: ignore[arg-type]
                self.problemsLoaded.emit()
        elif kind == "models":
            if self.models_dialog is not None and rid == self._models_rid:
                models, current, provider = result  # type: ignore[misc]
                self.models_dialog.set_models(models, current, provider)
                self.models_dialog.set_busy(self.indexing)
                self.modelsLoaded.emit()
        elif kind == "set_model":
            self._after_model_switch(bool(result))
        elif kind == "remove_root":
            self.refresh_sidebar()
            if self.browse_key == f"root:{result}":
                self.select_view("all")
            else:
                self._load_browse_photos()

    def _show_browse_rows(self, rows: list[Any]) -> None:
        """Show a fresh listing, keeping the scroll position and the selection when possible."""
        if self.model.update_photos(rows):
            return
        selected = [r.id for r in self.selected_photos()]
        scroll = self.grid.verticalScrollBar().value()
        self.model.set_photos(rows)
        keep = [i for i in (self.model.row_of(pid) for pid in selected) if i is not None]
        if keep:
            self.select_rows(keep)
        else:
            self._on_selection_changed()  # a reset selects nothing and says nothing: clear the panel
        self.grid.verticalScrollBar().setValue(scroll)

    def _after_model_switch(self, needs_reembed: bool) -> None:
        from attalos_desktop.core.library import Library

        try:
            self.lib.close()
        finally:
            self.lib = Library.open(home=self.home)
        self._words = None
        self.query.request("completion")
        if needs_reembed:
            self._set_status("Model switched; re-embedding the library in the background…")
            self.start_index(None, "Re-embedding")
        else:
            self._set_status("Model switched.")
        if self.models_dialog is not None:
            self.models_dialog.set_busy(self.indexing)
            self._models_rid = self.query.request("models")
        if len(self.selected_photos()) == 1:
            self._on_selection_changed()
        self.modelSwitched.emit(needs_reembed)

    @Slot(int, str, str, str)
    def _on_query_failed(self, rid: int, kind: str, message: str, tb: str) -> None:
        if self._closing:
            return
        if kind == "search":
            if rid == self._search_rid:
                from attalos_desktop.core.library import QueryError

                # QueryError (empty library, no usable word) is an answer, not a crash.
                self.model.set_photos([])
                self.results_label.setText(f"No results for “{html.escape(self.search_text)}”: {html.escape(message.split(': ', 1)[-1])}")
                self.results_bar.setVisible(True)
                if QueryError.__name__ not in message:
                    self._show_error("Search failed", message, tb)
                self.searchFinished.emit(self.search_text)
            return
        if kind == "detail":
            if rid == self._detail_rid:
                self.detail.show_error(message)
            return
        if kind == "suggest":
            dlg = self._suggest_rids.pop(rid, None)
            if dlg is not None:
                try:
                    dlg.set_error(message)
                except RuntimeError:
                    pass
        if kind == "set_model" and self.models_dialog is not None:
            self.models_dialog.set_busy(False, f"Could not switch model: {message}")
        if kind == "set_model" and self.training_dialog is not None:
            self.training_dialog.on_switch_failed(message)
        titles = {
            "review": "Could not save tags",
            "similar": "Find similar failed",
            "photos": "Could not list photos",
            "models": "Could not list models",
            "set_model": "Could not switch model",
            "open": "Could not open the library",
            "get_sidecars": "Could not read the sidecar setting",
            "set_sidecars": "Could not change the sidecar setting",
            "training_summary": "Could not read your tags",
        }
        self._show_error(titles.get(kind, f"{kind} failed"), message, tb)

    # ------------------------------------------------------------------------------------------
    # Errors, status, readiness
    # ------------------------------------------------------------------------------------------
    def _set_status(self, text: str) -> None:
        self.status_label.setText(text)
        self.status_label.setToolTip(text)

    @staticmethod
    def _with_warnings(message: str, warnings: list[str]) -> str:
        """``message`` plus the first warning a write returned, on one status-bar line."""
        if not warnings:
            return message
        first = " ".join(str(warnings[0]).split())
        more = f" (and {len(warnings) - 1} more)" if len(warnings) > 1 else ""
        return f"{message} Warning: {first}{more}"

    def _refresh_detail(self) -> None:
        """Ask again for the shown photo's tags and suggestions (after a tag write)."""
        cur = self.detail.photo_id
        if cur is not None:
            self._detail_rid = self.query.request("detail", (cur, self.settings.suggest_count, self.settings.score_threshold))

    def _report_error(self, title: str, exc: BaseException) -> None:
        self._show_error(title, f"{type(exc).__name__}: {exc}", traceback.format_exc())

    def _show_error(self, title: str, message: str, details: str = "") -> None:
        """Errors are never lost: status bar, a non-blocking message box, and ``errors`` for tests."""
        self.errors.append(f"{title}: {message}")
        self._set_status(f"{title}: {message}")
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
        if self.indexing or self.query.busy or self.search_timer.isActive():
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
        """Stop background work cleanly (cancel indexing, stop threads, close the Library)."""
        if self._closing:
            return
        self._closing = True
        if self.training_dialog is not None:
            try:
                self.training_dialog.shutdown()  # a running trainer is terminated: nothing is written
            except RuntimeError:
                pass
        worker = self.index_worker
        if worker is not None:
            worker.cancel()  # the child stops after its batch in flight; what it committed stays
            self.hide()  # do not look frozen while it finishes that batch
        self.index_pool.waitForDone(60000)
        self.last_index_exitcode = worker.exitcode if worker is not None else None
        self.loader.shutdown()
        self.query.shutdown()
        try:
            self.lib.close()
        except Exception:  # noqa: BLE001
            pass

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(1280, 800)
