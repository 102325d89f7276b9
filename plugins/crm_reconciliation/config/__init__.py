"""Settings every domain reads: the object registry, the run params, paths, the connection id."""
