"""The three commands (attalos-index, attalos-tag, attalos-search): thin argparse shells over core.Library."""
