import pytest
import torch

from vega_mm.registry import MODELS
from tests.model_utils import make_batch, make_items, model_cfg


def _model(**kw):
    torch.manual_seed(0)
    return MODELS.build(model_cfg(**kw))


def _data(model, lengths=(5, 3), modalities=('text', 'audio', 'visual'), seed=0):
    return model.data_preprocessor(make_batch(lengths, modalities, seed=seed), False)


def test_the_collate_pads_once_and_the_preprocessor_only_moves_the_batch():
    from vega_mm.datasets.collate import SPEAKER_PADDING
    model = _model()
    batch = make_batch((5, 3))
    x = batch['inputs']
    assert x['feats']['text'].shape == (2, 5, 12)
    assert x['mask'].tolist() == [[True] * 5, [True] * 3 + [False] * 2]
    assert x['speakers'][1, 3:].tolist() == [SPEAKER_PADDING] * 2
    assert float(x['feats']['audio'][1, 3:].abs().sum()) == 0.0
    items = make_items((5, 3))
    for i, n in enumerate((5, 3)):
        assert torch.equal(x['feats']['visual'][i, :n], items[i]['inputs']['feats']['visual'])
        assert torch.equal(x['speakers'][i, :n], items[i]['inputs']['speakers'])
    moved = model.data_preprocessor(batch, False)
    for key in ('mask', 'speakers'):
        assert torch.equal(moved['inputs'][key], x[key])
    assert [s.dialogue_id for s in moved['data_samples']] == ['d0', 'd1']


def test_the_collate_tolerates_the_scope_mmengine_adds_and_names_bad_dialogues():
    from vega_mm.datasets import conversation_collate
    from vega_mm.registry import FUNCTIONS
    # what MMEngine's Runner does with collate_fn=dict(type=..., _scope_='vega_mm')
    collate_fn = FUNCTIONS.get('conversation_collate')
    batch = collate_fn(make_items((4, 2)), _scope_='vega_mm')
    assert batch['inputs']['mask'].shape == (2, 4)
    with pytest.raises(TypeError, match='padding'):
        collate_fn(make_items((4, 2)), padding=0)  # other keys are still refused
    flat = [dict(inputs=dict(i['inputs']['feats']), data_samples=i['data_samples'])
            for i in make_items((4, 2))]
    with pytest.raises(ValueError, match=r"dialogue 'd0'.*speakers=LongTensor"):
        conversation_collate(flat)
    bad = make_items((4, 2))
    bad[1]['inputs']['speakers'] = torch.tensor([0, 1, 1])
    with pytest.raises(ValueError, match=r"'d1': modalities and speakers have different"):
        conversation_collate(bad)
    bad = make_items((4, 2))
    bad[1]['inputs']['feats']['text'] = torch.zeros(2, 5)
    with pytest.raises(ValueError, match=r"'d1': text features have dimension 5, the batch"):
        conversation_collate(bad)
    with pytest.raises(ValueError, match='empty batch'):
        conversation_collate([])


def test_the_preprocessor_refuses_an_unpadded_batch_and_the_backbone_bad_speakers():
    from mmengine.dataset import pseudo_collate
    model = _model()
    with pytest.raises(ValueError, match=r"collate_fn=dict\(type='vega_mm.conversation_collate'"):
        model.data_preprocessor(pseudo_collate(make_items((4, 2))))
    data = make_batch((4, 2))
    data['inputs']['speakers'][1, 1] = 2
    with pytest.raises(ValueError, match=r'speaker indices 0\.\.2 outside \[0, num_speakers=2\)'):
        model(**model.data_preprocessor(data), mode='loss')


def test_loss_and_predictions_ignore_padding():
    model = _model().eval()  # no dropout: deterministic
    data = _data(model)
    base = model(**data, mode='loss')
    assert set(base) == {'loss_cls', 'loss_kd', 'loss_anc', 'loss_akd'}
    base_pred = model(**_data(model), mode='predict')
    # overwrite every padded position (features and speakers) with large values
    mask = data['inputs']['mask']
    assert not bool(mask.all())
    for feats in data['inputs']['feats'].values():
        feats[~mask] = 1e3
    data['inputs']['speakers'][~mask] = 1
    padded = model(**data, mode='loss')
    for key in base:
        torch.testing.assert_close(padded[key], base[key])
    pred = model(**data, mode='predict')
    for a, b in zip(pred, base_pred):
        torch.testing.assert_close(a.pred_score, b.pred_score)


def test_distillation_averages_over_every_real_utterance_labelled_or_not():
    # The published implementation averages the KL terms over all real utterances; the
    # cross-entropy skips unlabelled ones.  Unlabelling an utterance therefore changes
    # the CE losses and leaves the distillation losses exactly as they were.
    model = _model().eval()
    data = _data(model)
    base = model(**data, mode='loss')
    data['data_samples'][0].gt_label[1] = -1
    changed = model(**data, mode='loss')
    for key in ('loss_kd', 'loss_akd'):
        torch.testing.assert_close(changed[key], base[key], rtol=0, atol=0)
    for key in ('loss_cls', 'loss_anc'):
        assert not torch.isclose(changed[key], base[key])
    # and the KD term is the mean over the 8 real utterances (5 + 3) of the 2 dialogues
    logits = model.head(model.extract_feat(data['inputs']))
    assert logits['fused'].shape[0] == 8
    loss = model.head.label_head.loss_module
    expected = loss.kd_loss(logits['fused'], logits, loss.kd_weights)
    torch.testing.assert_close(changed['loss_kd'], loss.kd_loss_weight * expected)


def test_backbone_feed_forward_uses_tanh_gelu():
    # The published backbone's feed-forward uses the tanh approximation of GELU.
    from vega_mm.models.backbones.sdt import CrossModalLayer
    torch.manual_seed(0)
    layer = CrossModalLayer(8, 2, 8, 0.0, pre_norm_query=False).eval()
    y, bias = torch.randn(1, 3, 8), torch.zeros(1, 1, 1, 3)
    x = layer.attn(y, y, bias) + y
    h = layer.ff1(layer.ff_norm(x))
    tanh_gelu = 0.5 * h * (1 + torch.tanh((2 / torch.pi)**0.5 * (h + 0.044715 * h**3)))
    torch.testing.assert_close(layer(y, None, bias), x + layer.ff2(tanh_gelu))
    # and it differs from the exact (erf) GELU, so the check above can fail
    assert not torch.allclose(x + layer.ff2(torch.nn.functional.gelu(h)), layer(y, None, bias),
                              rtol=0, atol=1e-7)


def test_predict_fills_per_utterance_predictions():
    model = _model().eval()
    samples = model(**_data(model), mode='predict')
    assert [s.pred_label.shape[0] for s in samples] == [5, 3]
    assert samples[1].pred_score.shape == (3, 4)
    torch.testing.assert_close(samples[0].pred_score.sum(-1), torch.ones(5))
    names = {'fused', 'text', 'audio', 'visual', 'anchor_fused', 'anchor_text',
             'anchor_audio', 'anchor_visual'}
    assert set(samples[0].branch_pred_labels) == set(samples[0].branch_scores) == names
    # fused label-space logits decide (the published setting); rows: real utterances
    logits = model(**_data(model), mode='tensor')
    torch.testing.assert_close(samples[0].pred_label, logits['fused'][:5].argmax(-1))
    torch.testing.assert_close(samples[0].pred_score, logits['fused'][:5].softmax(-1))
    torch.testing.assert_close(samples[1].branch_scores['anchor_text'],
                               logits['anchor_text'][5:].softmax(-1))
    # the cosine to every class anchor: the anchor logits over the logit scale (100)
    torch.testing.assert_close(samples[1].anchor_similarity,
                               logits['anchor_fused'][5:] / 100.0)
    assert float(samples[1].anchor_similarity.abs().max()) <= 1.0 + 1e-6
    # an SDT model has no anchor space: no similarity field
    sdt = _model(vega=False).eval()
    assert 'anchor_similarity' not in sdt(**_data(sdt), mode='predict')[0]


@pytest.mark.parametrize('modalities', [('text', ), ('text', 'audio')])
def test_text_only_and_text_audio_models_train(modalities):
    model = _model(modalities=modalities).train()
    data = _data(model, modalities=modalities)
    losses = model(**data, mode='loss')
    sum(losses.values()).backward()
    no_grad = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not no_grad, no_grad


def test_sdt_ablation_and_predict_with_anchor():
    sdt = _model(vega=False).eval()
    assert set(sdt(**_data(sdt), mode='loss')) == {'loss_cls', 'loss_kd'}
    cfg = model_cfg()
    cfg['predict_with'] = 'anchor'
    model = MODELS.build(cfg).eval()
    samples = model(**_data(model), mode='predict')
    torch.testing.assert_close(samples[0].pred_label, samples[0].branch_pred_labels['anchor_fused'])
    cfg['head']['vega_head'] = None
    with pytest.raises(ValueError, match="predict_with='anchor' needs an anchor space"):
        MODELS.build(cfg)
    sdt_cfg = model_cfg(vega=False)
    sdt_cfg['predict_with'] = 'mean'
    with pytest.raises(ValueError, match="needs an anchor space.*DualBranchHead"):
        MODELS.build(sdt_cfg)


def test_checkpoint_state_keeps_vega_branch_and_anchors():
    state = _model().state_dict()
    assert 'head.vega_head.anchor_bank.centers' in state
    assert 'head.vega_head.anchor_bank.exemplars' in state
    assert any(k.startswith('head.vega_head.projections.fused') for k in state)
    assert 'head.vega_head.loss_module.kd_loss.log_temperature.text' in state


def test_missing_modality_in_batch_is_named():
    model = _model()
    # the preprocessor knows the model's modalities (declared once, on the model)
    assert model.data_preprocessor.modalities == ('text', 'audio', 'visual')
    # a batch without one of them is refused by the backbone, naming it
    data = _data(_model(modalities=('text', 'audio')), modalities=('text', 'audio'))
    with pytest.raises(KeyError, match=r"modalities \('text', 'audio', 'visual'\).*no \['visual'\]"):
        model(**data, mode='loss')


def test_modalities_declared_once_shape_the_whole_model():
    model = _model(modalities=('text', 'audio'))
    assert model.backbone.modalities == ('text', 'audio')
    assert set(model.backbone.input_proj) == {'text', 'audio'}
    assert model.data_preprocessor.modalities == ('text', 'audio')
    assert model.head.branches == model.head.label_head.branches == \
        model.anchor_head.branches == ('fused', 'text', 'audio')
    # distillation weights of the absent modality are dropped, the others kept
    assert model.head.label_head.loss_module.kd_weights == dict(text=0.5, audio=0.5)
    assert model.head.num_classes == 4 and model.head.in_channels == 16
    # a sub-config that contradicts the declaration is an error naming both keys
    cfg = model_cfg(modalities=('text', ))
    cfg['head']['branches'] = ('fused', 'text', 'audio')
    with pytest.raises(ValueError, match=r"model.head.branches=.*contradicts "
                                         r"model.modalities=\['fused', 'text'\]|"
                                         r"model.head.branches=.*contradicts model.modalities"):
        MODELS.build(cfg)
    cfg = model_cfg()
    cfg['head']['label_head']['num_classes'] = 5
    with pytest.raises(ValueError, match=r'DualBranchHead.label_head.num_classes=5 '
                                         r'contradicts DualBranchHead.num_classes=4'):
        MODELS.build(cfg)
    cfg = model_cfg()
    cfg['modalities'] = ('text', 'smell')  # (a config's declaration is checked before)
    with pytest.raises(ValueError, match=r"backbone.input_dims has no dimension for \['smell'\]"):
        MODELS.build(cfg)
    cfg['backbone']['input_dims']['smell'] = 4  # the backbone names what it reads
    with pytest.raises(ValueError, match=r"input_dims must map modalities among"):
        MODELS.build(cfg)


def test_old_config_names_name_their_replacement():
    cfg = model_cfg()
    cfg['neck'] = cfg.pop('backbone')
    with pytest.raises(ValueError, match="'neck' is now called 'backbone'"):
        MODELS.build(cfg)
    # the two head slots of earlier configs: the VEGA head now lives in the one head
    cfg = model_cfg(vega=False)
    cfg['vega_head'] = dict(type='VEGAHead', anchor_bank=dict(anchor_file='x.pt'))
    with pytest.raises(ValueError, match=r'model.head.vega_head.anchor_bank.anchor_file'):
        MODELS.build(cfg)
    # loss arguments at the head level are not head arguments
    cfg = model_cfg(vega=False)
    cfg['head'] = dict(type='LabelHead', loss_weight=0.9)
    with pytest.raises(TypeError, match='loss_weight'):
        MODELS.build(cfg)
    # a class weight given twice must agree
    cfg = model_cfg(vega=False)
    cfg['class_weight'] = [1.0, 2.0, 1.0, 1.0]
    cfg['head']['loss']['class_weight'] = [1.0, 1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match=r'model.head.loss.class_weight=.*contradicts '
                                         r'model.class_weight'):
        MODELS.build(cfg)
