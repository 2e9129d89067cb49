"""Fixtures of the inference tests (tests/test_apis) and of tools/infer.py's tests
(tests/test_tools): a tiny trained-model stand-in with a feature recipe: features
extracted with a tiny local text encoder from synthetic conversation tables (MELD's CSV
layout, and their dialogues as JSONL transcripts), and checkpoints of randomly
initialised text-only models carrying the training dataset's metainfo, as MMEngine's
Runner saves it; a subtitle file and a silent video. Nothing here reads ``../shared``:
the tests build what they need."""
import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config

from tests.model_utils import model_cfg
from tests.utils import write_meld_like_table
from vega_mm.structures.meta import MELD_CLASSES

TEXT_DIM = 16  # the tiny encoder's hidden size
NUM_SPEAKERS = 4

#: The subtitles of a three-utterance scene (the recording tests' transcript).
SRT = """1
00:00:00,200 --> 00:00:01,400
ROSS: We were on a break!

2
00:00:01,600 --> 00:00:02,900
RACHEL: I cannot believe you.

3
00:00:03,000 --> 00:00:03,900
ROSS: Okay, I am sorry.
"""


def video_without_sound(path: Path) -> Path:
    """A 5 s MPEG-4 video without an audio stream."""
    import av
    with av.open(str(path), 'w') as out:
        stream = out.add_stream('mpeg4', rate=5)
        stream.width, stream.height, stream.pix_fmt = 64, 48, 'yuv420p'
        for _ in range(25):  # 5 s
            frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format='rgb24')
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path





def write_jsonl(csv_path: Path, out: Path, dialogues: int) -> Path:
    """The first ``dialogues`` dialogues of a MELD table as a generic JSONL transcript."""
    with open(csv_path, encoding='utf-8', newline='') as f:
        rows = [r for r in csv.DictReader(f) if int(r['Dialogue_ID']) < dialogues]
    with open(out, 'w', encoding='utf-8') as f:
        for r in rows:
            f.write(json.dumps(dict(dialogue_id=r['Dialogue_ID'], utterance_id=r['Utterance_ID'],
                                    speaker=r['Speaker'], text=r['Utterance'],
                                    label=r['Emotion'])) + '\n')
    return out


@pytest.fixture(scope='session')
def meld_like_tables(tmp_path_factory) -> Path:
    """A synthetic MELD-like folder: 20 train and 6 dev dialogues of seven speakers."""
    root = tmp_path_factory.mktemp('meld_like')
    write_meld_like_table(root / 'train_sent_emo.csv', 20, seed=0)
    write_meld_like_table(root / 'dev_sent_emo.csv', 6, seed=1)
    return root


def _transcripts(tables: Path, root: Path) -> dict:
    """The first 12 train and 4 dev dialogues of MELD-layout tables, as JSONL."""
    return dict(train=write_jsonl(tables / 'train_sent_emo.csv', root / 'train.jsonl', 12),
                test=write_jsonl(tables / 'dev_sent_emo.csv', root / 'test.jsonl', 4))


@pytest.fixture(scope='session')
def transcripts(meld_like_tables, tmp_path_factory) -> dict:
    return _transcripts(meld_like_tables, tmp_path_factory.mktemp('transcripts'))


@pytest.fixture(scope='session')
def feature_file(transcripts, tiny_text_model, tmp_path_factory) -> str:
    from vega_mm.features import extract_features
    out = tmp_path_factory.mktemp('features') / 'feats.npz'
    extract_features(str(out), [dict(path=str(transcripts['train']), split='train'),
                                dict(path=str(transcripts['test']), split='test')],
                     text=dict(model=tiny_text_model, batch_size=8), classes=MELD_CLASSES,
                     max_speakers=NUM_SPEAKERS, progress=False, log=lambda s: None)
    return str(out)


def text_config(causal: bool = False, vega: bool = True, modalities=('text', )) -> Config:
    cfg = model_cfg(modalities, num_classes=7, vega=vega)
    cfg['backbone'].update(input_dims=dict(text=TEXT_DIM, audio=10, visual=8),
                           num_speakers=NUM_SPEAKERS, causal=causal)
    return Config(dict(model=cfg, default_scope='vega_mm'))


def save_checkpoint(path: Path, cfg: Config, dataset_meta: dict, seed: int = 0) -> str:
    """A checkpoint as tools/train.py writes it: weights + meta.dataset_meta."""
    from vega_mm.apis import init_model
    torch.manual_seed(seed)
    model = init_model(cfg)
    torch.save(dict(state_dict=model.state_dict(), meta=dict(dataset_meta=dataset_meta)),
               str(path))
    return str(path)


@pytest.fixture(scope='session')
def train_meta(feature_file) -> dict:
    from vega_mm.datasets import ConversationDataset
    return dict(ConversationDataset(feature_file, split='train').metainfo)


@pytest.fixture(scope='session')
def text_model(train_meta, tmp_path_factory):
    """``(config, checkpoint)`` of a non-causal VEGA text model with a recipe."""
    cfg = text_config()
    return cfg, save_checkpoint(tmp_path_factory.mktemp('ckpt') / 'vega.pth', cfg, train_meta)


@pytest.fixture(scope='session')
def causal_model(train_meta, tmp_path_factory):
    cfg = text_config(causal=True)
    return cfg, save_checkpoint(tmp_path_factory.mktemp('ckpt') / 'causal.pth', cfg,
                                train_meta, seed=1)


__all__ = ['meld_like_tables', 'transcripts', 'feature_file', 'train_meta', 'text_model',
           'causal_model', 'text_config', 'save_checkpoint', 'write_jsonl', 'SRT',
           'video_without_sound', 'TEXT_DIM', 'NUM_SPEAKERS']
