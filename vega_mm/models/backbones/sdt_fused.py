"""The SDT backbone computed as a few large batched products (the fast path).

:class:`FusedSDTBackbone` is :class:`~vega_mm.models.backbones.sdt.SDTBackbone`'s maths
with another schedule:

- the nine (target, source) transformers, their unimodal gates and the per-modality
  reductions run together: their weights are stored stacked ([P, out, in], P pairs)
  and every linear map is one batched matrix product (``baddbmm``) over all pairs;
- every position-wise operation (projections, feed-forward, gates, reduction, fusion)
  runs on the real utterances only, packed to [N, H]; only attention sees the padded
  [B, L] layout, which it needs for its per-dialogue keys (padded keys get the same
  -1e4 bias as in the reference, from the same :meth:`SDTBackbone.attention_bias`).

In fp32 it gives the reference's outputs within rounding (a test holds this).  Dropout draws the same distributions
on other shapes, in another order and with a faster mask (:func:`vega_mm.models.dropout.
dropout`, also inside attention), so a training run with dropout consumes the random
numbers differently from the reference.

Checkpoints are interchangeable: :class:`SDTWeightLayout` converts between the two
weight layouts, so ``state_dict()`` gives the reference's keys (the stacked tensors split
per pair) and ``load_state_dict`` accepts them; either backbone loads the other's
checkpoints.  Optimizer states (resume) belong to one parameter layout.
"""
import inspect
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from vega_mm.registry import MODELS
from ..dropout import dropout
from ..low_precision import autocast_dtype, low_precision_copies
from .base import ConversationBackbone
from .sdt import SDTBackbone, attention_bias

__all__ = ['FusedSDTBackbone', 'SDTWeightLayout']


def _linear(x: torch.Tensor, weight: torch.Tensor, bias=None,
            low: Optional[Tuple[torch.Tensor, Optional[torch.Tensor]]] = None) -> torch.Tensor:
    """Batched linear map: x [P, N, in], weight [P, in, out], bias [P, out] or None.

    ``low``: the (weight, bias) copies in autocast's lower precision (see
    :meth:`FusedSDTBackbone.low_precision_weights`); then the products run in that
    precision through :class:`_LowPrecisionLinear`, as autocast would run them."""
    if low is not None:
        return _LowPrecisionLinear.apply(x, weight, bias, *low)
    if bias is None:
        return torch.bmm(x, weight)
    return torch.baddbmm(bias.unsqueeze(1), x, weight)


class _LowPrecisionLinear(torch.autograd.Function):
    """``baddbmm(bias, x, weight)`` with autocast's maths (products in the low precision
    of ``weight_low``, gradients returned in each input's own dtype), in the layouts the
    CPU's bf16 kernels (oneDNN, AMX) run fastest.

    Autocast itself casts every weight at every forward (a fresh allocation each time)
    and computes the weight gradient as ``x^T @ grad`` from a transposed view: on an AMX
    Xeon that product ran 2-3x slower in bf16 than with ``x^T`` made contiguous first.
    Here the weights come as persistent low-precision copies and ``x^T`` is contiguous.
    The bias gradient is summed in fp32 (autocast sums it in bf16)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor],
                weight_low: torch.Tensor, bias_low: Optional[torch.Tensor]) -> torch.Tensor:
        x_low = x.to(weight_low.dtype)
        if bias_low is None:
            y = torch.bmm(x_low, weight_low)
        else:
            y = torch.baddbmm(bias_low.unsqueeze(1), x_low, weight_low)
        ctx.save_for_backward(x_low, weight_low)
        ctx.dtypes = (x.dtype, weight.dtype, None if bias is None else bias.dtype)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x_low, weight_low = ctx.saved_tensors
        x_dtype, weight_dtype, bias_dtype = ctx.dtypes
        grad = grad.to(weight_low.dtype).contiguous()
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.bmm(grad, weight_low.transpose(1, 2)).to(x_dtype)
        if ctx.needs_input_grad[1]:
            # contiguous x^T [P, in, N]: the fast kernels; a transposed view is not
            grad_w = torch.bmm(x_low.transpose(1, 2).contiguous(), grad).to(weight_dtype)
        if bias_dtype is not None and ctx.needs_input_grad[2]:
            grad_b = grad.sum(1, dtype=torch.float32).to(bias_dtype)
        return grad_x, grad_w, grad_b, None, None


class _PadHeads(torch.autograd.Function):
    """Packed rows [P, N, parts * H] -> ``parts`` zero-padded, head-major tensors
    [P * B, heads, L, H / heads] (row n of ``x`` is the n-th True of ``mask`` [B, L]).

    Written directly in the layout the attention products read, with a backward that
    gathers the gradient rows back (autograd's own version would copy the padded tensor
    for every write into it)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, mask: torch.Tensor, parts: int, heads: int):
        pairs, n, channels = x.shape
        batch, length = mask.shape
        head_dim = channels // parts // heads
        rows = x.view(pairs, n, parts, heads, head_dim)
        padding = ~mask if not bool(mask.all()) else None
        outs = []
        for j in range(parts):
            out = x.new_empty(pairs, batch, heads, length, head_dim)
            by_position = out.permute(0, 1, 3, 2, 4)  # [P, B, L, heads, hd] view
            by_position[:, mask] = rows[:, :, j]
            if padding is not None:  # only the padded positions need zeros
                by_position[:, padding] = 0
            outs.append(out.view(pairs * batch, heads, length, head_dim))
        ctx.save_for_backward(mask)
        ctx.shape = (pairs, batch, heads, length, head_dim)
        return tuple(outs)

    @staticmethod
    def backward(ctx, *grads: torch.Tensor):
        mask, = ctx.saved_tensors
        rows = [g.view(ctx.shape).permute(0, 1, 3, 2, 4)[:, mask] for g in grads]
        grad = torch.stack(rows, dim=2) if len(rows) > 1 else rows[0]
        return grad.flatten(2), None, None, None


def _layer_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """LayerNorm (eps 1e-6, as SDT) with one affine transform per pair: x [P, N, H]."""
    normed = F.layer_norm(x, x.shape[-1:], eps=1e-6)
    return torch.addcmul(bias.unsqueeze(1), normed, weight.unsqueeze(1))


class SDTWeightLayout:
    """The two weight layouts of the SDT backbone and the conversion between them.

    The reference layout (:class:`SDTBackbone`) has one module per (target, source) pair:
    ``transformers.<t>_<s>.layers.<i>.<name>``, ``unimodal_gates.<t>_<s>.weight`` and
    ``reduce.<m>.{weight,bias}``.  The stacked layout (:class:`FusedSDTBackbone`) has one
    tensor per name, ``stacked.layer<i>_<name>``, ``stacked.gate_weight``,
    ``stacked.reduce_{weight,bias}``, stacked over the pairs (or modalities), matrices as
    [P, in, out].

    Args:
        pairs: the (target, source) pairs, in the backbone's order.
        modalities: the modalities, in order.
        num_layers: layers per transformer.
    """

    def __init__(self, pairs: Sequence[Tuple[str, str]], modalities: Sequence[str],
                 num_layers: int) -> None:
        self.rows = self._rows(list(pairs), list(modalities), num_layers)

    @staticmethod
    def _rows(pairs, modalities, num_layers) -> Dict[str, List[List[str]]]:
        """Stacked name -> per stacked row, the reference keys concatenated (dim 0)."""
        rows = {}
        for i in range(num_layers):
            # Queries and keys|values are separate parameters: slicing one stacked
            # parameter would cost a full-size gradient per slice in backward.
            parts = dict(q_proj_weight=('attn.q_proj.weight', ),
                         q_proj_bias=('attn.q_proj.bias', ),
                         kv_proj_weight=('attn.k_proj.weight', 'attn.v_proj.weight'),
                         kv_proj_bias=('attn.k_proj.bias', 'attn.v_proj.bias'),
                         out_proj_weight=('attn.out_proj.weight', ),
                         out_proj_bias=('attn.out_proj.bias', ),
                         ff_norm_weight=('ff_norm.weight', ), ff_norm_bias=('ff_norm.bias', ),
                         ff1_weight=('ff1.weight', ), ff1_bias=('ff1.bias', ),
                         ff2_weight=('ff2.weight', ), ff2_bias=('ff2.bias', ))
            if i > 0:  # layers after the first normalise their query (SDT)
                parts.update(query_norm_weight=('query_norm.weight', ),
                             query_norm_bias=('query_norm.bias', ))
            for name, suffixes in parts.items():
                rows[f'layer{i}_{name}'] = [
                    [f'transformers.{t}_{s}.layers.{i}.{x}' for x in suffixes]
                    for t, s in pairs]
        rows['gate_weight'] = [[f'unimodal_gates.{t}_{s}.weight'] for t, s in pairs]
        rows['reduce_weight'] = [[f'reduce.{m}.weight'] for m in modalities]
        rows['reduce_bias'] = [[f'reduce.{m}.bias'] for m in modalities]
        return rows

    def stack(self, name: str, tensors: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Reference tensors -> the stacked tensor ``name`` (matrices as [P, in, out])."""
        out = torch.stack([torch.cat([tensors[k] for k in keys]) for keys in self.rows[name]])
        return out.transpose(1, 2).contiguous() if out.dim() == 3 else out

    def stacked_parameters(self, reference: nn.Module) -> nn.ParameterDict:
        """The stacked parameters of a reference backbone's weights.

        Each per-pair tensor of ``reference`` is freed once stacked, so building never
        holds two copies of the transformers' weights (peak memory).
        """
        tensors = dict(reference.named_parameters())
        stacked = nn.ParameterDict()
        for name, rows in self.rows.items():
            # stack returns new memory: no clone needed
            stacked[name] = nn.Parameter(self.stack(name, tensors).detach())
            for key in (k for keys in rows for k in keys):
                tensors[key].data = torch.empty(0)
        return stacked

    def to_reference(self, state_dict: dict, prefix: str) -> None:
        """In place: ``<prefix>stacked.*`` -> the reference's per-pair keys."""
        for name, rows in self.rows.items():
            stacked = state_dict.pop(f'{prefix}stacked.{name}')
            if stacked.dim() == 3:  # [P, in, out] -> [P, out, in], as nn.Linear
                stacked = stacked.transpose(1, 2)
            for row, keys in zip(stacked.unbind(0), rows):
                for key, part in zip(keys, row.chunk(len(keys))):
                    state_dict[prefix + key] = part

    def from_reference(self, state_dict: dict, prefix: str) -> None:
        """In place: the reference's per-pair keys -> ``<prefix>stacked.*``.

        Incomplete sets are left alone, so the usual missing/unexpected-key report
        names them.
        """
        for name, rows in self.rows.items():
            keys = [prefix + k for ks in rows for k in ks]
            if all(k in state_dict for k in keys):
                tensors = {k[len(prefix):]: state_dict.pop(k) for k in keys}
                state_dict[f'{prefix}stacked.{name}'] = self.stack(name, tensors)


@MODELS.register_module()
class FusedSDTBackbone(ConversationBackbone):
    """:class:`SDTBackbone`'s maths with the per-pair modules stacked and batched (same
    arguments, same outputs, same checkpoint keys).

    The initial weights are those of an :class:`SDTBackbone` built with the same
    arguments (so the same seed gives the same model), stacked by
    :class:`SDTWeightLayout`: ``stacked['layer{i}_<name>']`` is [P, ...] over the pairs
    ``self.pairs``; matrices are stored as [P, in, out], so that their gradients come out
    of the batched products in the parameters' own layout (no copy per step).

    Args: as :class:`SDTBackbone`.  Forward and returns: the backbone contract.
    """

    # it takes exactly SDTBackbone's arguments: say so to whoever reads the signature
    # (the check of --cfg-options names a misspelt one before anything is built)
    __signature__ = inspect.signature(SDTBackbone)

    def __init__(self, *args, **kwargs) -> None:
        # the reference with the same arguments: its checks, its initial weights
        reference = SDTBackbone(*args, **kwargs)
        super().__init__(reference.input_dims, reference.hidden_dim, reference.num_speakers,
                         reference.max_len, reference.causal, reference.init_cfg)
        # the position-wise modules are shared as they are; the per-pair ones are stacked
        self.input_proj = reference.input_proj
        self.speaker_embedding = reference.speaker_embedding
        self.position = reference.position
        self.embed_dropout = reference.embed_dropout
        self.fusion_gate = reference.fusion_gate
        self.pairs = reference.pairs
        self.attention_window = reference.attention_window
        first = next(iter(reference.transformers.values())).layers
        self.num_layers, self.num_heads = len(first), first[0].attn.num_heads
        self.layout = SDTWeightLayout(self.pairs, self.modalities, self.num_layers)
        self.stacked = self.layout.stacked_parameters(reference)
        del reference
        index = {m: i for i, m in enumerate(self.modalities)}
        pairs = torch.tensor([[index[t], index[s]] for t, s in self.pairs])
        self.register_buffer('_target_index', pairs[:, 0], persistent=False)
        self_pair = pairs[:, 0] == pairs[:, 1]
        cross = (~self_pair).nonzero().flatten()
        self.register_buffer('_cross_source_index', pairs[cross, 1], persistent=False)
        # Row of each pair's source in cat([targets, cross-pair sources]).
        source_row = torch.arange(len(self.pairs))
        source_row[cross] = len(self.pairs) + torch.arange(len(cross))
        self.register_buffer('_source_row', source_row, persistent=False)
        self.register_buffer('_self_pair', self_pair, persistent=False)
        # the public names since PyTorch 2.2; the same hooks before it
        if hasattr(self, 'register_state_dict_post_hook'):
            self.register_state_dict_post_hook(_to_reference_keys)
            self.register_load_state_dict_pre_hook(_from_reference_keys)
        else:
            self._register_state_dict_hook(_to_reference_keys)
            self._register_load_state_dict_pre_hook(_from_reference_keys, with_module=True)

    def low_precision_weights(self) -> Optional[Dict[str, torch.Tensor]]:
        """The stacked weights in autocast's lower precision (bf16 on the CPU), as
        persistent copies; None outside autocast (the products then run as written).

        Autocast would cast every stacked weight at every forward into fresh memory (on
        the CPU, page faults on tens of MB; about 3,600 casts per 7 MELD steps).  Here
        each weight has one buffer, rewritten in place once per change of the weights
        (see :func:`~vega_mm.models.low_precision.low_precision_copies`).
        """
        dtype = autocast_dtype(self.stacked['gate_weight'])
        if dtype is None:
            return None
        # the layer norms' affine maps stay fp32 (autocast runs layer norms in fp32)
        return low_precision_copies(self, {n: p for n, p in self.stacked.items()
                                           if '_norm_' not in n}, dtype)

    def attention_bias(self, key_padding: torch.Tensor) -> torch.Tensor:
        """The reference's :func:`~.sdt.attention_bias` for a batch's padding [B, L]."""
        return attention_bias(key_padding, self.attention_window, self.causal)

    def _linear(self, x: torch.Tensor, name: str, low: Optional[Dict[str, torch.Tensor]],
                bias: bool = True) -> torch.Tensor:
        """:func:`_linear` with the stacked ``<name>_weight`` (and ``_bias``)."""
        weight = self.stacked[f'{name}_weight']
        b = self.stacked[f'{name}_bias'] if bias else None
        lows = None if low is None else (low[f'{name}_weight'],
                                         low[f'{name}_bias'] if bias else None)
        return _linear(x, weight, b, lows)

    def _layer(self, i: int, target: torch.Tensor, source: torch.Tensor,
               mask: torch.Tensor, attn_bias: torch.Tensor,
               low: Optional[Dict[str, torch.Tensor]] = None) -> torch.Tensor:
        """One :class:`CrossModalLayer` for all pairs: target/source [P, N, H]."""
        w = {k[len(f'layer{i}_'):]: v for k, v in self.stacked.items()
             if k.startswith(f'layer{i}_')}
        if i > 0:
            target = _layer_norm(target, w['query_norm_weight'], w['query_norm_bias'])
            # Self-attention pairs attend to their normalised target (CrossModalLayer).
            source = torch.where(self._self_pair[:, None, None], target, source)
        q = self._linear(target, f'layer{i}_q_proj', low)
        kv = self._linear(source, f'layer{i}_kv_proj', low)
        ctx = self._attention(q, kv, mask, attn_bias)
        y = self._dropout(self._linear(ctx, f'layer{i}_out_proj', low)) + target
        ff = F.gelu(self._linear(_layer_norm(y, w['ff_norm_weight'], w['ff_norm_bias']),
                                 f'layer{i}_ff1', low), approximate='tanh')
        ff = self._linear(self._dropout(ff), f'layer{i}_ff2', low)
        return y + self._dropout(ff)

    def _attention(self, q: torch.Tensor, kv: torch.Tensor, mask: torch.Tensor,
                   attn_bias: torch.Tensor) -> torch.Tensor:
        """Packed q [P, N, H] and k|v [P, N, 2H] -> packed attention context [P, N, H]."""
        pairs, hidden = q.shape[0], q.shape[-1]
        batch, length = mask.shape
        heads = self.num_heads
        # padded, head-major [P * B, heads, L, hd]: the batched products read them as is
        q, = _PadHeads.apply(q, mask, 1, heads)
        k, v = _PadHeads.apply(kv, mask, 2, heads)
        bias = attn_bias.to(q.dtype)  # [B, 1, 1 or L, L]
        p = self.attention_dropout if self.training else 0.0
        if p == 0.0:
            bias = bias.expand(batch, *bias.shape[1:]).repeat(pairs, 1, 1, 1)
            ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        else:  # SDPA's maths (scaled scores + bias, softmax, dropout), faster dropout
            scores = torch.matmul(q, k.transpose(-2, -1)) * (hidden // heads)**-0.5
            scores = scores.view(pairs, batch, heads, length, length) + bias
            weights = dropout(torch.softmax(scores, dim=-1), p, True)
            ctx = torch.matmul(weights.view(pairs * batch, heads, length, length), v)
        # [P * B, heads, L, hd] -> packed [P, N, H]
        ctx = ctx.view(pairs, batch, heads, length, hidden // heads).permute(0, 1, 3, 2, 4)
        return ctx[:, mask].reshape(pairs, -1, hidden)

    def encode(self, feats: Dict[str, torch.Tensor], mask: torch.Tensor,
               speakers: torch.Tensor) -> Dict[str, torch.Tensor]:
        key_padding = ~mask
        batch, length = mask.shape
        speakers = speakers.masked_fill(key_padding, self.num_speakers)
        context = (self.position(length) + self.speaker_embedding(speakers))[mask]  # [N, H]
        embedded = torch.stack([
            F.linear(feats[m][mask], self.input_proj[m].weight.squeeze(-1)) + context
            for m in self.modalities])  # [M, N, H]
        # Each transformer draws its own dropout on its inputs (as in SDT).
        target = self._dropout(embedded[self._target_index])  # [P, N, H]
        source = self._dropout(embedded[self._cross_source_index])
        source = torch.cat([target, source])[self._source_row]
        attn_bias = self.attention_bias(key_padding)
        low = self.low_precision_weights()
        for i in range(self.num_layers):
            target = self._layer(i, target, source, mask, attn_bias, low)
        gated = target * torch.sigmoid(self._linear(target, 'gate', low, bias=False))
        n_mod, n = len(self.modalities), gated.shape[1]
        # target m's gated outputs side by side, in its source order: [M, N, M * H]
        gated = gated.view(n_mod, n_mod, n, -1).transpose(1, 2).reshape(n_mod, n, -1)
        reduced = self._linear(gated, 'reduce', low)
        stacked = reduced.transpose(0, 1)  # [N, M, H]
        weights = torch.softmax(self.fusion_gate(stacked), dim=-2)
        fused = (weights * stacked).sum(dim=-2)
        out = dict(zip(self.modalities, reduced.unbind(0)))
        out['fused'] = fused
        return out

    @property
    def attention_dropout(self) -> float:
        return self.embed_dropout.p

    def _dropout(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.embed_dropout.p, self.training)


def _to_reference_keys(module: FusedSDTBackbone, state_dict: dict, prefix: str,
                       local_metadata) -> None:
    """state_dict post-hook: the stacked layout -> the reference's keys."""
    module.layout.to_reference(state_dict, prefix)


def _from_reference_keys(module: FusedSDTBackbone, state_dict: dict, prefix: str,
                         *args) -> None:
    """load_state_dict pre-hook: the reference's keys -> the stacked layout."""
    module.layout.from_reference(state_dict, prefix)
