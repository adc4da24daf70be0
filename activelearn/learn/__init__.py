"""Learning: models, the one fit(), inference, metrics, checkpoints."""
