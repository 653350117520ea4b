"""Models: loading with clear errors, summaries, atomic saves, shapes and constants of the graph."""
