"""Attalos trainer: learns the joint image-tag embedding and exports model bundles.

Importing the package does not import torch; the modules that need it import it themselves, so
``trainer.cli --help`` and the GUI's check for the `train` extra stay cheap. The generated-photo
corpus the tests and the stand-in model use lives in the app (``attalos_desktop.synthetic``),
because the app's demo needs it and the app never imports the trainer.
"""
