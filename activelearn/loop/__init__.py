"""The loop: the only code that holds the state, the annotation backend and the
executor together."""
