"""The Brian2 backend: the only part of hipposim that imports brian2.

Modules: :mod:`.lif` (neuron equations and the analytic f-I curve),
:mod:`.network` (the CA3 -> CA1 network, built from and returning plain
arrays) and :mod:`.codegen` (code-generation targets and their caches).
Importing this package does not import brian2; its functions do.
"""


def import_brian2():
    """Import brian2 from any thread.

    ``import brian2`` installs a SIGINT handler, which Python allows only in
    the main thread; Dask runs tasks in worker threads. Off the main thread the
    handler is skipped (Ctrl-C then stops the worker, not the simulation).
    """
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        import brian2

        return brian2
    original = signal.signal
    signal.signal = lambda *args, **kwargs: None
    try:
        import brian2
    finally:
        signal.signal = original
    return brian2
