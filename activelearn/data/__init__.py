"""Where the images come from: sources, splits, duplicates."""
