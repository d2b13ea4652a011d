"""The model library, installed as ``hipposim.models``.

:data:`BUILTIN` is the one table of built-in models: a versioned id and a lazy
``module:Class`` entry point each (nothing is imported until a model is used).
Bump the version in the id when behaviour changes, so old scenario files keep
their meaning. Each model module holds its declared parameters and its
orchestration; its numerics live in :mod:`hipposim.functional` and
:mod:`hipposim.circuits`, its simulator code in :mod:`hipposim.backends`.
"""
from __future__ import annotations

#: The built-in models. Bump the version in the id when behaviour changes, so
#: old scenario files keep their meaning.
BUILTIN: dict[str, str] = {
    "hopfield-classical-v1": "hipposim.models.hopfield_classical:ClassicalHopfield",
    "hopfield-modern-v1": "hipposim.models.hopfield_modern:ModernHopfield",
    "hopfield-sparse-v1": "hipposim.models.hopfield_sparse:SparseHopfield",
    "ca3-spiking-v1": "hipposim.models.ca3_spiking:CA3Spiking",
    "ca3-spiking-v2": "hipposim.models.ca3_spiking_v2:CA3SpikingV2",
    "ca3-spiking-v3": "hipposim.models.ca3_spiking_v3:CA3SpikingV3",
    "transformer-block-v1": "hipposim.models.transformer_block:TransformerBlock",
    "mlp-baseline-v1": "hipposim.models.mlp_baseline:MLPBaselineV1",
    "mlp-baseline-v2": "hipposim.models.mlp_baseline:MLPBaseline",
    "autoencoder-v1": "hipposim.models.denoising_autoencoder:DenoisingAutoencoder",
    "attention-spiking-v1": "hipposim.models.attention_spiking:AttentionSpiking",
    "sequence-classical-v1": "hipposim.models.sequence_classical:ClassicalSequence",
    "sequence-dense-v1": "hipposim.models.sequence_dense:DenseSequence",
    "attention-causal-v1": "hipposim.models.sequence_attention:CausalAttention",
    "attention-induction-v1": "hipposim.models.sequence_attention:InductionAttention",
}
