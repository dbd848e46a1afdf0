import sys

from attalos_desktop.gui.app import main

sys.exit(main())
