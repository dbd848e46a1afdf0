"""Attalos trainer: learns the joint image-tag embedding and exports model bundles.

Importing the package does not import torch, so that ``trainer.synthetic`` stays usable by the
app's tests; the modules that need torch import it themselves.
"""

__all__ = ["synthetic"]
