"""The app's core: no Qt and no torch. The CLI, the GUI and the trainer's export all build on it."""
