"""Circuit builders as plain-array specifications (codes, projections, graphs, protocol timelines)."""
