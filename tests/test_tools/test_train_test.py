"""End-to-end: tools/train.py, tools/test.py, resume and distributed training.

The tests that read a finished run share ``tiny_run`` (tests/test_tools/conftest.py)."""
import json

import numpy as np
import pytest

from tests.test_tools.common import (REPO, read_results, run_tool, val_history,
                                     write_tiny_config)

TRAIN = str(REPO / 'tools' / 'train.py')
TEST = str(REPO / 'tools' / 'test.py')


def test_train_selects_on_val_and_reports_val_and_test(tiny_run):
    res = tiny_run['results']
    assert res['best_checkpoint'] and res['best_checkpoint'].endswith('.pth')
    for split in ('val', 'test'):
        for key in ('accuracy', 'weighted_f1', 'macro_f1', 'f1_happy',
                    'weighted_f1_fused', 'weighted_f1_text', 'weighted_f1_anchor_fused'):
            assert f'erc/{key}' in res[split]
    # the best checkpoint is the epoch with the best validation weighted F1
    history = val_history(tiny_run['work'])
    assert len(history) >= 4
    best = max(h['erc/weighted_f1'] for h in history[:4])
    assert res['val']['erc/weighted_f1'] == pytest.approx(best, abs=1e-6)
    assert '| weighted_f1 |' in tiny_run['stdout']


@pytest.fixture(scope='module')
def val_predictions(tiny_run, tmp_path_factory):
    """``tools/test.py --split val --out preds.json`` on the best checkpoint, parsed."""
    folder = tmp_path_factory.mktemp('test_tool')
    out = folder / 'preds.json'
    run_tool([TEST, str(tiny_run['cfg']), tiny_run['results']['best_checkpoint'], '--split',
              'val', '--out', str(out), '--work-dir', str(folder / 'w')])
    return json.loads(out.read_text())


def test_test_tool_reproduces_validation_metrics_and_writes_predictions(tiny_run,
                                                                        val_predictions):
    res = tiny_run['results']
    dumped = val_predictions
    for key, value in res['val'].items():
        assert dumped['metrics'][key] == pytest.approx(value, abs=1e-6), key
    preds = dumped['predictions']  # one prediction record per utterance
    assert len({p['dialogue_id'] for p in preds}) == 8  # val dialogues
    classes = dumped['classes']
    for p in preds:
        assert classes[p['pred_label']] == p['pred_class'] and classes[p['gt_label']] == \
            p['gt_class']
        assert p['pred_score'] == max(p['pred_scores'].values()) == \
            p['pred_scores'][p['pred_class']]
        assert set(p['pred_scores']) == set(classes) == set(p['anchor_similarity'])
        assert set(p['branch_predictions']) >= {'fused', 'anchor_fused'}
    # the records give back the metric's accuracy
    accuracy = 100 * np.mean([p['pred_label'] == p['gt_label'] for p in preds])
    assert accuracy == pytest.approx(dumped['metrics']['erc/accuracy'], abs=1e-6)


def test_resume_after_interruption_matches_uninterrupted_run(tiny_run, tmp_path):
    # the same config "interrupted" after 2 epochs, then resumed to the 4 of tiny_run
    short_cfg = write_tiny_config(tmp_path, epochs=2)
    part = tmp_path / 'part'
    run_tool([TRAIN, str(short_cfg), '--work-dir', str(part), '--no-test'])
    assert (part / 'epoch_2.pth').exists()
    run_tool([TRAIN, str(tiny_run['cfg']), '--work-dir', str(part), '--resume'])
    full, resumed = tiny_run['results'], read_results(part)
    assert resumed['val'] == full['val']
    assert resumed['test'] == full['test']
    full_hist = [h['erc/weighted_f1'] for h in val_history(tiny_run['work'])][:4]
    part_hist = [h['erc/weighted_f1'] for h in val_history(part)][:4]
    assert part_hist == full_hist


def test_distributed_training_on_cpu_counts_every_utterance_once(tmp_path):
    import re

    import numpy as np
    from mmengine.config import Config

    from vega_mm.registry import DATASETS

    # Odd split sizes: the distributed sampler pads rank 1 with a repeat of the first
    # dialogue, which the metric must drop when it gathers both ranks' results.
    splits = '_n = (18, 7, 9)\n' + ''.join(
        f'{s}_dataloader = dict(dataset=dict(num_dialogues=_n))\n' for s in ('val', 'test'))
    cfg = write_tiny_config(tmp_path, epochs=2, extra=splits)
    proc = run_tool(['--nproc_per_node=2', '--master_port=29531', TRAIN, str(cfg),
                     '--work-dir', str(tmp_path / 'ddp'), '--launcher', 'pytorch'],
                    module='torch.distributed.run')
    config = Config.fromfile(str(cfg))
    labelled = {}
    for split in ('val', 'test'):
        data = DATASETS.build(dict(config[f'{split}_dataloader'].dataset, pipeline=[]))
        assert len(data) % 2 == 1  # so that the sampler pads
        labelled[split] = sum(int((np.asarray(data.get_data_info(i)['labels']) >= 0).sum())
                              for i in range(len(data)))
    # ERCMetric logs (on rank 0) how many labelled utterances it scored: validation after
    # epochs 1 and 2, then the best checkpoint on val and on test.
    counted = [int(n) for n in re.findall(r'ERCMetric on (\d+) utterances', proc.stdout)]
    assert counted == [labelled['val']] * 3 + [labelled['test']]
    res = read_results(tmp_path / 'ddp')
    assert set(res) == {'best_checkpoint', 'val', 'test'}
    assert (tmp_path / 'ddp' / 'epoch_2.pth').exists()


def test_inference_api_matches_test_tool(tiny_run, val_predictions, tmp_path):
    from mmengine.config import Config
    from vega_mm.datasets import conversation_collate

    from vega_mm.apis import init_model
    from vega_mm.registry import DATASETS, TRANSFORMS
    res = tiny_run['results']
    expected: dict = {}
    for p in val_predictions['predictions']:
        expected.setdefault(p['dialogue_id'], []).append(p['pred_label'])
    # the anchor file named in the config is not needed: anchors come from the checkpoint
    model = init_model(str(tiny_run['cfg']), res['best_checkpoint'], cfg_options={
        'model.head.vega_head.anchor_bank.anchor_file': str(tmp_path / 'absent.pt'),
        'model.head.vega_head.anchor_bank.random_anchors': False})
    cfg = Config.fromfile(str(tiny_run['cfg']))
    val = DATASETS.build(dict(cfg.val_dataloader.dataset, pipeline=[]))
    dialogues = [val.get_data_info(i) for i in range(len(val))]
    for d in dialogues:
        d.pop('labels')  # new conversations have no labels
    pack = TRANSFORMS.build(dict(type='PackConversationInputs'))
    preds = []
    for start in range(0, len(dialogues), 3):  # the model's own predict path, 3 at a time
        batch = [pack(dict(d, sample_idx=start + i))
                 for i, d in enumerate(dialogues[start:start + 3])]
        preds.extend(model.test_step(conversation_collate(batch)))
    assert {p.metainfo['dialogue_id']: p.pred_label.tolist() for p in preds} == expected


def test_test_tool_show_dir_writes_the_evaluations_pictures(tiny_run, tmp_path):
    show = tmp_path / 'show'
    run_tool([TEST, str(tiny_run['cfg']), tiny_run['results']['best_checkpoint'],
              '--show-dir', str(show), '--work-dir', str(tmp_path / 'w')])
    pngs = sorted(p.name for p in show.glob('*.png'))
    assert 'confusion_matrix.png' in pngs and 'confusion_fused.png' in pngs, pngs
    assert all((show / n).stat().st_size > 10_000 for n in pngs)  # a drawn picture
    summary = json.loads((show / 'confusion_matrix.json').read_text())
    # the pictures are of this evaluation: the test metrics of the best checkpoint
    assert summary['accuracy'] == pytest.approx(tiny_run['results']['test']['erc/accuracy'],
                                                abs=1e-6)
    assert not list(REPO.glob('confusion*'))  # nothing in the repository root
