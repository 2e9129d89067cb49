"""ERCVisualizationHook: confusion matrix and per-class F1 of every validation, read back
from the TensorBoard event file and the local backend."""
import json

import numpy as np
import pytest

from tests.test_tools.common import REPO, run_tool, val_history, write_tiny_config

VIS = """
custom_hooks = [dict(type='ERCVisualizationHook')]
vis_backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
"""


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    pytest.importorskip('tensorboard')  # the `vis` extra
    folder = tmp_path_factory.mktemp('vis_hook')
    cfg = write_tiny_config(folder, epochs=2, extra=VIS)
    work = folder / 'work'
    run_tool([str(REPO / 'tools' / 'train.py'), str(cfg), '--work-dir', str(work),
              '--no-test'])
    return work


def test_tensorboard_event_file_holds_the_images_and_per_class_f1(run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = sorted(run.glob('*/vis_data/events.out.tfevents.*'))
    assert events, 'no TensorBoard event file written'
    acc = EventAccumulator(str(events[0].parent), size_guidance={'images': 0, 'scalars': 0})
    acc.Reload()
    images = acc.Images('val_confusion_matrix')
    assert [im.step for im in images] == [1, 2]
    assert images[0].width > 300 and images[0].height > 200
    # the per-class F1 the hook sends equals the metric's own, epoch by epoch
    history = val_history(run)
    assert len(history) == 2
    classes = ('happy', 'sad', 'neutral', 'anger', 'excited', 'frustration')
    for name in classes:
        sent = acc.Scalars(f'val_per_class_f1/{name}')
        assert [s.step for s in sent] == [1, 2]
        for s, row in zip(sent, history):
            assert s.value == pytest.approx(row[f'erc/f1_{name}'], abs=1e-4)


def test_local_backend_keeps_the_pictures_and_numbers(run):
    images = sorted(p.name for p in run.glob('*/vis_data/vis_image/*.png'))
    assert images == ['val_confusion_matrix_1.png', 'val_confusion_matrix_2.png']
    rows = [json.loads(line) for f in run.glob('*/vis_data/scalars.json')
            for line in f.read_text().splitlines()]
    sent = [r for r in rows if 'val_per_class_f1/happy' in r]
    assert [r['step'] for r in sent] == [1, 2]
    assert all(np.isfinite(r['val_per_class_f1/sad']) for r in sent)


def test_interval_must_be_positive():
    from vega_mm.engine.hooks import ERCVisualizationHook
    with pytest.raises(ValueError, match='interval'):
        ERCVisualizationHook(interval=0)


class _Recorder:
    def __init__(self):
        self.images, self.scalars = [], []

    def add_image(self, name, image, step=0):
        self.images.append((name, image, step))

    def add_scalars(self, scalars, step=0):
        self.scalars.append((scalars, step))


def test_each_dialogue_counts_once_and_scalars_are_the_metric_f1():
    from types import SimpleNamespace

    import torch

    from vega_mm.engine.hooks import ERCVisualizationHook
    from vega_mm.evaluation import erc_scores
    from vega_mm.structures import ConversationDataSample

    classes = ['a', 'b', 'c']
    runner = SimpleNamespace(
        visualizer=_Recorder(), epoch=3, iter=30,
        val_dataloader=SimpleNamespace(dataset=SimpleNamespace(metainfo={'classes': classes})))

    def sample(idx, gt, pred):
        s = ConversationDataSample(metainfo=dict(sample_idx=idx))
        s.set_gt_label(torch.tensor(gt))
        s.set_pred_label(torch.tensor(pred))
        return s

    hook = ERCVisualizationHook()
    hook.before_val_epoch(runner)
    hook.after_val_iter(runner, 0, outputs=[sample(0, [0, 1, -1], [0, 2, 1]),
                                            sample(1, [2, 2], [2, 0])])
    # a distributed sampler pads the last batch with a copy of an earlier dialogue
    hook.after_val_iter(runner, 1, outputs=[sample(0, [0, 1, -1], [0, 2, 1])])
    hook.after_val_epoch(runner, {})
    (name, image, step), = runner.visualizer.images
    assert name == 'val_confusion_matrix' and step == 3
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    (scalars, step), = runner.visualizer.scalars
    expected = erc_scores(np.array([0, 1, -1, 2, 2]), np.array([0, 2, 1, 2, 0]), 3)
    assert step == 3
    assert [scalars[f'val_per_class_f1/{c}'] for c in classes] == \
        pytest.approx(list(expected['per_class_f1']))
