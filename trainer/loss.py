"""The Im2Vec negative-sampling loss (word2vec's, with an image in the place of the centre word)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def negative_sampling_loss(
    emb: torch.Tensor, rows: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor,
    pos_mask: torch.Tensor, neg_mask: torch.Tensor,
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
