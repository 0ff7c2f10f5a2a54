"""Work that runs on its own: repository rescans on a timer."""
