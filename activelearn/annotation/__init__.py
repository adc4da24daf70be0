"""Annotation backends: the simulated oracle (simulate) and Label Studio (the real loop)."""
