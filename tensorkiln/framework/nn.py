"""``tk.nn``: the neural-network namespace (activations, softmax, losses, dropout)."""
from __future__ import annotations

from .nn_ops import (  # noqa: F401
    bias_add,
    dropout,
    elu,
    embedding_lookup,
    in_top_k,
    l2_loss,
    leaky_relu,
    log_softmax,
    relu,
    relu6,
    sigmoid,
    sigmoid_cross_entropy_with_logits,
    softmax,
    softmax_cross_entropy_with_logits,
    softmax_cross_entropy_with_logits_v2,
    softplus,
    sparse_softmax_cross_entropy_with_logits,
    tanh,
)
from .nn_conv import avg_pool, avg_pool2d, conv2d, max_pool, max_pool2d  # noqa: F401,E402  (issue 4A: CNN ops)
