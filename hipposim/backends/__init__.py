"""Simulator backends. Each one only translates; it hands back plain arrays."""
