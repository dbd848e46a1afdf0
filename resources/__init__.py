"""Data shipped with the app: the default model bundle under models/ (named by models/DEFAULT)."""
