"""The Brian2 backend: the only part of hipposim that imports brian2.

Modules: :mod:`.lif` (neuron equations and the analytic f-I curve),
:mod:`.network` (the CA3 -> CA1 network, built from and returning plain
arrays) and :mod:`.codegen` (code-generation targets and their caches).
Importing this package does not import brian2; its functions do.
"""
