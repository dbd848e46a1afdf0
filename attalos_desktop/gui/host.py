"""What the window's controllers use from the main window, as typed interfaces.

window.py assembles the window and makes its controllers (search.py, tagging.py, tools.py, views.py) and its
menus (actions.py); they act on the window through these protocols, never by importing window.py, so the
imports go one way: window -> controllers -> host -> the parts below (queries, grid, pages, detail, status,
settings, sidebar). ``MainWindow`` satisfies every protocol here as it is (structural typing); a test (or another
window) can hand a controller anything that has these members.

``window()`` is QWidget's own: for the top-level main window, the window itself. Controllers use it as
the Qt parent of what they make (themselves, dialogs, actions, menus), which needs a real QObject/QWidget.
"""

from __future__ import annotations

from typing import Any, Protocol

from PySide6.QtCore import SignalInstance
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLineEdit, QMenuBar, QSlider, QStackedWidget, QToolBar, QWidget

from attalos_desktop.gui.detail import DetailPanel
from attalos_desktop.gui.grid import PhotoDelegate, PhotoGridModel, PhotoGridView
from attalos_desktop.gui.pages import ProblemsPage, ResultsBar
from attalos_desktop.gui.queries import QueryClient, Results
from attalos_desktop.gui.settings import Settings
from attalos_desktop.gui.sidebar import Sidebar
from attalos_desktop.gui.status import StatusArea


class Host(Protocol):
    """What every controller uses: the query thread, errors, and the widget to parent things on."""

    query: QueryClient

    def window(self) -> QWidget: ...

    def show_error(self, title: str, message: str, details: str = "") -> None: ...


class SearchHost(Host, Protocol):
    """search.py: the search box, the results bar above the grid, the grid's rows, the browse view, the
    sidebar (its Years/Places entry follows the search shown)."""

    search_box: QLineEdit
    results_bar: ResultsBar
    sidebar: Sidebar
    stack: QStackedWidget
    grid_page: QWidget
    model: PhotoGridModel
    browse_key: str
    searchFinished: SignalInstance  # noqa: N815 - the window's Qt signals keep Qt's names
    similarFinished: SignalInstance  # noqa: N815

    def show_results(self, res: Results, label: str) -> None: ...

    def select_view(self, key: str, from_sidebar: bool = False) -> None: ...


class TaggingHost(Host, Protocol):
    """tagging.py: thumbnails for the review dialog, the suggestion settings, the status bar, the detail panel."""

    model: PhotoGridModel
    settings: Settings
    status: StatusArea

    def refresh_detail(self) -> None: ...


class CompletionWords(Protocol):
    """The tagging controller's completion words, as tools.py sees them (they change with the model)."""

    def forget_words(self) -> None: ...


class ToolsHost(Host, Protocol):
    """tools.py: the library, settings, indexing state and re-embedding, the thumbnail size."""

    home: str | None
    settings: Settings
    status: StatusArea
    tagging: CompletionWords

    @property
    def indexing(self) -> bool: ...

    def start_index(self, paths: list[str] | None, label: str = "Indexing") -> None: ...

    def refresh_detail(self) -> None: ...

    def apply_thumb_size(self, size: int) -> None: ...

    def save_settings(self) -> None: ...


class SearchKeys(Protocol):
    """The search controller's slots the search box and the Esc shortcut are wired to."""

    def on_edited(self, text: str) -> None: ...

    def run_now(self) -> None: ...

    def on_escape(self) -> None: ...


class SearchReset(Protocol):
    """The search controller as views.py sees it: choosing a view leaves any search or similar results;
    choosing a Years/Places entry searches for it."""

    def reset(self) -> None: ...

    def search(self, text: str) -> None: ...


class ViewsHost(Host, Protocol):
    """views.py: the browsed view (``browse_key``), the sidebar, the pages of the stack, the grid and its rows."""

    browse_key: str
    settings: Settings
    sidebar: Sidebar
    stack: QStackedWidget
    grid_page: QWidget
    empty_page: QWidget
    problems_page: ProblemsPage
    model: PhotoGridModel
    grid: PhotoGridView
    delegate: PhotoDelegate
    detail: DetailPanel
    searcher: SearchReset
    photosLoaded: SignalInstance  # noqa: N815 - the window's Qt signals keep Qt's names
    problemsLoaded: SignalInstance  # noqa: N815

    @property
    def mode(self) -> str: ...

    @property
    def indexing(self) -> bool: ...

    def selected_photos(self) -> list[Any]: ...

    def select_rows(self, rows: list[int]) -> None: ...

    def on_selection_changed(self, *_args: Any) -> None: ...


class ActionsHost(Protocol):
    """actions.py: builds the window's actions (``act_*``), menu bar, toolbar and shortcuts onto it, and the
    photo context menu; the actions call the window's commands."""

    act_add: QAction
    act_rescan: QAction
    act_quit: QAction
    act_find: QAction
    act_select_all: QAction
    act_suggest: QAction
    act_similar: QAction
    act_show: QAction
    act_open: QAction
    act_models: QAction
    act_train: QAction
    act_settings: QAction
    toolbar: QToolBar
    search_box: QLineEdit
    size_slider: QSlider
    grid: PhotoGridView
    model: PhotoGridModel
    sidebar: Sidebar
    searcher: SearchKeys

    def window(self) -> QWidget: ...

    def menuBar(self) -> QMenuBar: ...  # noqa: N802 - QMainWindow's

    def addToolBar(self, toolbar: QToolBar) -> None: ...  # noqa: N802 - QMainWindow's

    def close(self) -> bool: ...

    def add_folder_dialog(self) -> None: ...

    def rescan(self) -> None: ...

    def focus_search(self) -> None: ...

    def suggest_tags_for_selection(self) -> None: ...

    def find_similar_to_selection(self) -> None: ...

    def show_selection_in_folder(self) -> None: ...

    def open_selection(self) -> None: ...

    def show_models(self) -> Any: ...

    def show_training(self, command: Any = None, available: Any = None) -> Any: ...

    def show_settings(self) -> Any: ...

    def show_about(self) -> None: ...

    def on_size_released(self) -> None: ...

    def selected_photos(self) -> list[Any]: ...
