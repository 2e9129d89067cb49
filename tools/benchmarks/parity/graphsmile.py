"""GraphSmile against lijfrank-open/GraphSmile: its ``GraphSmile`` with ``--textf_mode
textf0`` and its README's settings for the size; besides the emotions, the sentiment
and sentiment-shift logits are compared, and the loss is ``NLL(emotion) + l1
NLL(sentiment) + l2 NLL(shift)`` with IEMOCAP's sentiments derived from the emotions as
published (``source='derive'``) and MELD's given per utterance (``source='samples'``,
as MELD ships them).

Shims for its old APIs, here only: a no-op ``.cuda()``, an empty ``ipdb``.
"""
import sys
from argparse import Namespace
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from vega_mm.models.heads.graphsmile_head import IEMOCAP_SENTIMENTS
from vega_mm.registry import MODELS
from vega_mm.structures import ConversationDataSample
from . import common, norm_models
from .common import dataset_size, entry_points, import_checkout, rel

#: the RoBERTa text of both published feature files
SIZES = dict(iemocap=dataset_size(dict(text=1024, audio=1582, visual=342), 'iemocap'),
             meld=dataset_size(dict(text=1024, audio=300, visual=342), 'meld'))
#: the README's settings per size
SETTINGS = dict(
    iemocap=dict(hidden=512, win=17, layers=7, shift=19, lambd=(1.0, 1.0, 0.7)),
    meld=dict(hidden=384, win=3, layers=5, shift=3, lambd=(1.0, 0.5, 0.2)))
#: training speed: dropout (the published ``--drop``) and Adam's learning rate
SPEED = dict(dropout=0.2, lr=1e-4)
#: no packed control: no published RNN reads the padding
PACKED_RNN = None
#: eval mode: its BatchNorm uses running statistics and nothing else reads the padding
EVAL_READS_PADDING = False
WHY_TRAIN = 'the published BatchNorm statistics count the padding'


def import_published(folder: str):
    return import_checkout(folder, ['model.py', 'module.py', 'utils.py'],
                           'a lijfrank-open/GraphSmile checkout', ('model', 'module', 'utils'))


def build_pair(module, name: str, size: dict, dropout: float):
    """(published model, vega_mm backbone, vega_mm head)."""
    dims, S, C = size['dims'], size['speakers'], size['classes']
    s = SETTINGS[name]
    args = Namespace(textf_mode='textf0', no_cuda=True, win=[s['win'], s['win']],
                     modals='avl', shift_win=s['shift'], hidden_dim=s['hidden'], drop=dropout,
                     heter_n_layers=[s['layers']] * 3)
    pub = module.GraphSmile(args, [dims['text'], dims['visual'], dims['audio']], C)
    ours = MODELS.build(dict(
        type='GraphSmileBackbone', input_dims=dims, hidden_dim=s['hidden'],
        window_past=s['win'], window_future=s['win'], num_layers=s['layers'],
        dropout=dropout, num_speakers=S))
    sentiment = dict(shift_window=s['shift'], loss_weights=s['lambd'][1:])
    sentiment.update(dict(source='derive', emotion_to_sentiment=list(IEMOCAP_SENTIMENTS))
                     if C == 6 else dict(source='samples'))
    head = MODELS.build(dict(
        type='GraphSmileHead', num_classes=C, in_channels=ours.hidden_dim,
        branches=('fused', ), vega_head=None, sentiment=sentiment,
        label_head=dict(type='LinearLabelHead', dropout=0.0,
                        loss=dict(branch_weights=dict(fused=1.0), kd_loss_weight=0.0))))
    return pub, ours, head


def weight_map(pub: nn.Module, ours: nn.Module):
    """(published names, vega_mm name, how) for every vega_mm parameter."""
    pairs = []
    for p in ('weight', 'bias'):
        pairs += [(('batchnorms_t.0.' + p, ), f'backbone.text_norm.{p}', None),
                  ((f'dim_layer_t.0.{p}', ), f'backbone.proj.text.0.{p}', None),
                  ((f'dim_layer_v.0.{p}', ), f'backbone.proj.visual.0.{p}', None),
                  ((f'dim_layer_a.0.{p}', ), f'backbone.proj.audio.0.{p}', None),
                  ((f'modal_fusion.0.{p}', ), f'backbone.modal_fusion.0.{p}', None),
                  ((f'emo_output.{p}', ), f'head.label_head.classifiers.fused.1.{p}', None),
                  ((f'sen_output.{p}', ), f'head.sentiment_classifier.{p}', None),
                  ((f'senshift.shift_output_layer.0.{p}', ), f'head.shift_classifier.{p}',
                   None)]
    for short, pair in (('tv', 'text_visual'), ('ta', 'text_audio'), ('va', 'visual_audio')):
        g = f'hetergconv_{short}'
        pairs.append(((f'{g}.edge_weight', ), f'backbone.graphs.{pair}.edge_weight', None))
        for i in range(len(ours.graphs[pair].convs)):
            pairs += [((f'{g}.hetergcn_layers.{i}.hetergconv.weight', ),
                       f'backbone.graphs.{pair}.convs.{i}.lin.weight', 'T'),
                      ((f'{g}.hetergcn_layers.{i}.hetergconv.bias', ),
                       f'backbone.graphs.{pair}.convs.{i}.bias', None)]
            for p in ('weight', 'bias'):
                pairs.append(((f'{g}.fc_layers.{i}.0.{p}', ),
                              f'backbone.graphs.{pair}.fcs.{i}.0.{p}', None))
    return pairs


def text_norms(pub: nn.Module):
    return [pub.batchnorms_t[0]]


def make_batch(size: dict, lengths: Sequence[int], seed: int) -> dict:
    """Common's batch, with sentiments (IEMOCAP: derived as published; MELD: shipped
    per utterance) and the data samples GraphSmileHead reads them from."""
    b = common.make_batch(size, lengths, seed)
    labels = b['labels']
    if size['classes'] == 6:
        sentiments = torch.tensor(IEMOCAP_SENTIMENTS)[labels]
    else:
        sentiments = torch.randint(0, 3, (len(labels), ), generator=b['gen'])
    samples, start = [], 0
    for n in lengths:
        s = ConversationDataSample()
        s.set_gt_label(labels[start:start + n])
        s.set_field(sentiments[start:start + n], 'gt_sentiment')
        samples.append(s)
        start += n
    return dict(b, sentiments=sentiments, samples=samples)


def run_published(pub: nn.Module, b: dict):
    """(emotion log-probabilities, sentiment logits, shift logits)."""
    U = b['U']
    t = U['text']
    emo, sen, sft, _ = pub(t, t, t, t, U['visual'], U['audio'], b['umask'].t(), b['qmask'],
                           b['lengths'])
    return F.log_softmax(emo, -1), sen, sft


def run_ours(ours, head, b: dict):
    feat = ours(b['feats'], b['mask'], b['speakers'])
    lp = F.log_softmax(head(feat)['fused'], -1)
    sen, sft, _ = head.sentiment_logits(feat['fused'], b['lengths'])
    return lp, sen, sft


def extra_rows(o_out, p_out):
    return [('sentiment logits (eval)', rel(o_out[1], p_out[1])),
            ('sentiment-shift logits (eval)', rel(o_out[2], p_out[2]))]


def published_loss(pub, b: dict, size: dict, name: str) -> torch.Tensor:
    lp, sen, sft = run_published(pub, b)
    s = SETTINGS[name]
    shift = sys.modules['module'].build_match_sen_shift_label(s['shift'], b['lengths'],
                                                              b['sentiments'])
    lam = s['lambd']
    return (lam[0] * F.nll_loss(lp, b['labels'])
            + lam[1] * F.nll_loss(F.log_softmax(sen, -1), b['sentiments'])
            + lam[2] * F.nll_loss(F.log_softmax(sft, -1), shift))


def our_loss(ours, head, b: dict) -> torch.Tensor:
    feat = ours(b['feats'], b['mask'], b['speakers'])
    return sum(head.loss(feat, b['samples']).values())


check_size, speed = entry_points(__name__, norm_models)
NOT_COUNTED = norm_models.NOT_COUNTED
