"""Annotation quality and the learning curve as pure functions: votes, agreement, gold,
label errors, relabel ranking, overlap, throughput, the forecast (Wilson intervals, the
power-law fit) and the stop decision's maths."""
