"""The window's menus, toolbar (search box, thumbnail size) and shortcuts, and the photo context menu."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QLabel, QLineEdit, QMenu, QSlider, QToolBar, QWidget

from attalos_desktop.gui.host import ActionsHost


def _action(win: ActionsHost, text: str, slot, shortcut=None) -> QAction:
    a = QAction(text, win.window())
    if shortcut is not None:
        a.setShortcut(shortcut)
    a.triggered.connect(slot)
    return a


def build(win: ActionsHost) -> None:
    """Make the actions (``win.act_*``), the menu bar, the toolbar and the Esc shortcut."""
    K = QKeySequence
    win.act_add = _action(win, "&Add folder…", win.add_folder_dialog, K.StandardKey.Open)
    win.act_rescan = _action(win, "&Rescan library", win.rescan, K("F5"))
    win.act_quit = _action(win, "&Quit", win.close, K.StandardKey.Quit)
    win.act_find = _action(win, "&Find…", win.focus_search, K.StandardKey.Find)
    win.act_select_all = _action(win, "Select &all", win.grid.selectAll, K.StandardKey.SelectAll)
    win.act_suggest = _action(win, "Suggest &tags…", win.suggest_tags_for_selection, K("Ctrl+T"))
    win.act_similar = _action(win, "Find &similar photos", win.find_similar_to_selection, K("Ctrl+Shift+F"))
    win.act_show = _action(win, "Show in &folder", win.show_selection_in_folder)
    win.act_open = _action(win, "&Open with default application", win.open_selection, K("Ctrl+Return"))
    win.act_models = _action(win, "&Models…", win.show_models)
    win.act_train = _action(win, "&Train on my tags…", win.show_training)
    win.act_settings = _action(win, "&Settings…", win.show_settings, K.StandardKey.Preferences)
    win.sidebar.menu_actions = [win.act_add, win.act_rescan]

    mb = win.menuBar()
    menus = {
        "&File": [win.act_add, win.act_rescan, None, win.act_quit],
        "&Edit": [win.act_find, win.act_select_all],
        "&Photo": [win.act_suggest, win.act_similar, win.act_show, win.act_open],
        "&Tools": [win.act_models, win.act_train, None, win.act_settings],
        "&Help": [_action(win, "&About Attalos", win.show_about)],
    }
    for title, items in menus.items():
        m = mb.addMenu(title)
        for a in items:
            m.addSeparator() if a is None else m.addAction(a)

    tb = QToolBar("Main")
    tb.setObjectName("mainToolbar")
    tb.setMovable(False)
    tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    win.addToolBar(tb)
    win.toolbar = tb
    win.search_box = QLineEdit()
    win.search_box.setObjectName("searchBox")
    win.search_box.setPlaceholderText("Search by any word, date or place…  (Ctrl+F)")
    win.search_box.setToolTip("Words, dates and places in one query: “dog beach”, “paris 2019”, “cat june 2021”")
    win.search_box.setClearButtonEnabled(True)
    win.search_box.setMinimumWidth(320)
    win.search_box.textEdited.connect(win.searcher.on_edited)
    win.search_box.returnPressed.connect(win.searcher.run_now)
    win.search_box.installEventFilter(win.window())  # the window's eventFilter
    win.size_slider = QSlider(Qt.Orientation.Horizontal)
    win.size_slider.setRange(96, 320)
    win.size_slider.setSingleStep(16)
    win.size_slider.setValue(win.model.thumb_size)
    win.size_slider.setFixedWidth(120)
    win.size_slider.setToolTip("Thumbnail size")
    win.size_slider.sliderReleased.connect(win.on_size_released)
    tb.addAction(win.act_add)
    tb.addSeparator()
    tb.addWidget(win.search_box)
    spacer = QWidget()
    spacer.setFixedWidth(12)
    tb.addWidget(spacer)
    tb.addWidget(QLabel("Size "))
    tb.addWidget(win.size_slider)
    tb.addSeparator()
    tb.addAction(win.act_models)

    esc = QShortcut(QKeySequence(Qt.Key.Key_Escape), win.window())
    esc.setContext(Qt.ShortcutContext.WindowShortcut)
    esc.activated.connect(win.searcher.on_escape)
    update_photo_actions(win)


def update_photo_actions(win: ActionsHost) -> None:
    """Enable what applies to the selection (one photo for Find similar)."""
    if not hasattr(win, "act_suggest"):
        return  # still being built
    sm = win.grid.selectionModel()
    n = len(sm.selectedIndexes()) if sm is not None else 0
    for a in (win.act_suggest, win.act_show, win.act_open):
        a.setEnabled(n >= 1)
    win.act_similar.setEnabled(n == 1)


def photo_menu(win: ActionsHost) -> QMenu:
    """The grid's context menu for the selection."""
    menu = QMenu(win.window())
    menu.setObjectName("photoContextMenu")
    n = len(win.selected_photos())
    win.act_suggest.setText("Suggest tags…" if n <= 1 else f"Suggest tags for {n} photos…")
    for a in (win.act_suggest, win.act_similar, None, win.act_show, win.act_open):
        menu.addSeparator() if a is None else menu.addAction(a)
    return menu
