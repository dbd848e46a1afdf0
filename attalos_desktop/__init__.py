"""Attalos Desktop: tag and search your photos with a joint image-word embedding."""

__version__ = "0.1.0"
