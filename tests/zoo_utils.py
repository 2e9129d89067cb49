"""The model zoo's configs (DialogueGCN, MMGCN, M3Net, GraphSmile, each with and without
VEGA's head) made tiny and pointed at synthetic data, for the tests that train them."""
from pathlib import Path
from typing import Dict, List

import numpy as np
from mmengine.config import Config

REPO = Path(__file__).parents[1]
#: The zoo's config folders, one per model.
ZOO_MODELS = ('dialoguegcn', 'mmgcn', 'm3net', 'graphsmile')
#: Every config of the zoo.
ZOO_CONFIGS: List[Path] = sorted(p for m in ZOO_MODELS
                                 for p in (REPO / 'configs' / m).glob('*.py'))
#: Per backbone: the settings that make it tiny (an epoch on synthetic data in seconds).
TINY_WIDTHS: Dict[str, dict] = {
    'DialogueGCNBackbone': dict(hidden_dim=8, context_dim=4, num_bases=4),
    'MMGCNBackbone': dict(context_dim=4, graph_hidden=8, text_proj_dim=8, num_layers=3),
    'M3NetBackbone': dict(node_dim=8, graph_hidden=4, text_proj=True),
    'GraphSmileBackbone': dict(hidden_dim=8, num_layers=2),
}
#: The synthetic data's 6 (IEMOCAP-named) classes -> sentiment, as GraphSmile derives
#: IEMOCAP's (0 negative, 1 neutral, 2 positive).
SYNTHETIC_SENTIMENTS = (2, 0, 1, 0, 2, 0)


def write_synthetic_with_sentiments(path: Path, num_dialogues=(12, 6, 6)) -> Path:
    """The synthetic conversations as a native file whose dialogues carry sentiments
    (the classes' ones, every fifth utterance unknown), like a file extracted from
    MELD's tables."""
    from vega_mm.datasets import make_synthetic_conversations
    from vega_mm.datasets.formats import save_native
    coll = make_synthetic_conversations(num_dialogues)
    table = np.asarray(SYNTHETIC_SENTIMENTS)
    dialogues = []
    for d in coll.dialogues:
        sen = table[d['labels']]
        sen[::5] = -1
        dialogues.append(dict(d, sentiments=sen))
    save_native(str(path), dialogues, coll.classes, coll.splits)
    return Path(path)


def synthetic_config(path: Path, work_dir: Path) -> Config:
    """A zoo config made tiny and pointed at the synthetic data (its model, head and
    schedule kept): 1 epoch, the widths of :data:`TINY_WIDTHS`, random anchors. A head
    reading its sentiments from the data samples (``sentiment.source='samples'``) gets
    the synthetic data as a native file with sentiments (written in ``work_dir``)."""
    cfg = Config.fromfile(str(path))
    syn = Config.fromfile(str(REPO / 'configs' / 'vega' / 'vega_synthetic.py'))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key] = syn[key]
        cfg[key].dataset.num_dialogues = (12, 6, 6)
    cfg.model.classes = syn.model.classes
    cfg.model.class_weight = None
    cfg.pop('classes', None)
    bb = cfg.model.backbone
    bb.input_dims = {m: syn.model.backbone.input_dims[m] for m in bb.input_dims}
    bb.num_speakers = 2
    bb.update(TINY_WIDTHS[bb.type])
    head = cfg.model.head
    sen = head.get('sentiment')
    if sen and sen.get('emotion_to_sentiment'):
        sen.emotion_to_sentiment = list(SYNTHETIC_SENTIMENTS)
    if sen and sen.get('source') == 'samples':
        work_dir.mkdir(parents=True, exist_ok=True)
        ann = write_synthetic_with_sentiments(work_dir / 'synthetic_sentiments.npz')
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            data = cfg[key].dataset
            cfg[key].dataset = dict(type='ConversationDataset', ann_file=str(ann),
                                    split=data.split, pipeline=data.pipeline)
    if head.get('vega_head'):
        head.vega_head.anchor_bank = dict(type='AnchorBank', dim=8, random_anchors=True,
                                          num_exemplars=2, random_seed=0)
    cfg.train_cfg.max_epochs = 1
    cfg.work_dir = str(work_dir)
    cfg.default_hooks.logger.interval = 1
    return cfg
