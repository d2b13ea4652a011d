"""The Brian2 backend: the only part of hipposim that imports brian2."""
