"""Pure maths, each piece once: retrieval (softmax / modern Hopfield / Hebbian), attention,
ridge readouts, coding readouts and entropy. No simulation, no I/O."""
