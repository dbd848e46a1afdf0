"""The two losses a model can train with, side by side so a reader compares them at a glance.

- ``negative_sampling_loss``: the method, Im2Vec's (word2vec's, with an image in the place of the
  centre word): a few positive tags pulled up, K sampled negatives pushed down, each a logistic.
- ``softmax_loss``: the alternative it is measured against (the model card's ablation): a softmax over
  every tag in the photo's scope, K = all of them, target spread over the photo's tags.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LOSSES = ("negative-sampling", "softmax")


def negative_sampling_loss(
    emb: torch.Tensor,
    rows: torch.Tensor,
    pos: torch.Tensor,
    neg: torch.Tensor,
    pos_mask: torch.Tensor,
    neg_mask: torch.Tensor,
) -> torch.Tensor:
    """Mean over photos of -[sum log s(v_pos . f) + sum log s(-v_neg . f)].

    emb [B,d] image embeddings; rows [U,d] the gathered tag rows; pos [B,P] and neg [B,K] index
    into ``rows``; masks drop draws that must not count (padding, unfixable collisions).
    """
    emb = emb.float()
    rows = rows.float()
    s_pos = torch.einsum("bd,bpd->bp", emb, rows[pos])
    s_neg = torch.einsum("bd,bkd->bk", emb, rows[neg])
    lp = F.logsigmoid(s_pos) * pos_mask
    ln = F.logsigmoid(-s_neg) * neg_mask
    return -(lp.sum(dim=1) + ln.sum(dim=1)).mean()


def softmax_loss(emb: torch.Tensor, rows: torch.Tensor, target: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy of softmax(f . v) over ``rows`` (the scope's tags) against ``target`` [B,U]
    (each photo's mass spread over its own tags), smoothed toward uniform by ``smoothing``."""
    logits = emb.float() @ rows.float().t()
    if smoothing:
        target = (1 - smoothing) * target + smoothing / target.shape[1]
    return -(target * F.log_softmax(logits, dim=1)).sum(1).mean()
