"""Annotation quality as pure functions: votes, agreement, gold, label errors, relabel
ranking, overlap."""
