"""activelearn: an active-learning loop for image classification."""

__version__ = "0.1.0"
