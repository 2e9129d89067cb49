"""Building anchor banks from a folder of face images (real FER2013 faces)."""
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from vega_mm.anchors import (AnchorClassError, build_anchor_bank_from_folder,
                             load_anchor_file, load_rgb_image, scan_class_folders)

FER = ['angry', 'disgust', 'fear', 'happy', 'neutral', 'sad', 'surprise']


def test_clip_anchors_from_real_faces(few_faces, open_clip_encoder, tmp_path):
    report = build_anchor_bank_from_folder(few_faces, open_clip_encoder, batch_size=5,
                                           progress=False)
    assert report.class_names == FER
    assert report.n_images == 14 and report.dim == 512
    assert report.images['happy'] == sorted(f'happy/{p.name}'
                                            for p in (few_faces / 'happy').iterdir())
    # exemplars are exactly the encoder's features of the class's images
    happy = [Image.open(few_faces / rel) for rel in report.images['happy']]
    torch.testing.assert_close(report.exemplars[FER.index('happy')],
                               open_clip_encoder.encode(happy), rtol=0, atol=1e-5)
    assert report.images_per_second > 0
    out = tmp_path / 'fer_vitb32.pt'
    report.save(str(out))
    data = load_anchor_file(str(out))
    assert data['class_names'] == FER
    torch.testing.assert_close(data['centers'],
                               torch.stack([e.mean(0) for e in report.exemplars]))
    meta = data['meta']
    assert meta['encoder'] == open_clip_encoder.identity
    assert meta['encoder']['weights_sha256'] is not None
    assert meta['images'] == report.images and meta['dim'] == 512
    assert meta['face_detector'] is None and meta['class_mapping'] == {}
    table = report.to_table()
    assert 'happy' in table and 'images/s' in table and 'ViT-B-32' in table


def test_iemocap_classes_with_aliases_and_mapping(few_faces, colour_encoder):
    report = build_anchor_bank_from_folder(
        few_faces, colour_encoder, classes='iemocap',
        class_mapping={'excited': 'Joy', 'frustration': 'angry'}, progress=False)
    assert report.class_names == ['happy', 'sad', 'neutral', 'anger', 'excited',
                                  'frustration']
    assert report.sources['anger'] == 'angry'
    assert report.mapped == {'excited': 'Joy', 'frustration': 'angry'}
    ex = dict(zip(report.class_names, report.exemplars))
    assert torch.equal(ex['excited'], ex['happy'])
    assert torch.equal(ex['frustration'], ex['anger'])
    assert report.images['excited'] == report.images['happy']
    # each image is encoded once even when two classes use it
    assert colour_encoder.seen == report.n_images == 8
    assert sorted(report.unused_folders) == ['disgust', 'fear', 'surprise']
    assert report.meta['class_mapping'] == {'excited': 'Joy', 'frustration': 'angry'}
    assert 'excited      2       happy (mapped)' in report.to_table()


def test_meld_names_match_fer_folders(few_faces, colour_encoder):
    report = build_anchor_bank_from_folder(few_faces, colour_encoder, classes='meld',
                                           progress=False)
    assert report.class_names == ['neutral', 'surprise', 'fear', 'sadness', 'joy', 'disgust',
                                  'anger']
    assert [report.sources[c] for c in report.class_names] == [
        'neutral', 'surprise', 'fear', 'sad', 'happy', 'disgust', 'angry']
    assert report.unused_folders == []


def test_every_class_without_images_is_listed_before_encoding(few_faces, colour_encoder):
    with pytest.raises(AnchorClassError) as err:
        build_anchor_bank_from_folder(few_faces, colour_encoder, classes='iemocap',
                                      class_mapping={'frustration': 'contempt'},
                                      progress=False)
    msg = str(err.value)
    assert "'excited' has no folder and no mapping" in msg
    assert "'frustration' is mapped to 'contempt'" in msg
    assert '2 of 6 classes' in msg and '--map excited=happy' in msg
    assert colour_encoder.seen == 0
    with pytest.raises(AnchorClassError, match='not among the anchor classes'):
        build_anchor_bank_from_folder(few_faces, colour_encoder, classes='meld',
                                      class_mapping={'excited': 'happy'}, progress=False)


def test_mapping_without_class_list_adds_the_mapped_class(few_faces, colour_encoder):
    report = build_anchor_bank_from_folder(few_faces, colour_encoder,
                                           class_mapping='excited=happy', progress=False)
    assert report.class_names == FER + ['excited']
    assert torch.equal(report.exemplars[-1], report.exemplars[FER.index('happy')])


def test_a_class_with_its_own_folder_keeps_its_images(few_faces, tmp_path, colour_encoder):
    root = tmp_path / 'faces'
    shutil.copytree(few_faces, root)
    shutil.copytree(few_faces / 'happy', root / 'Excited')
    report = build_anchor_bank_from_folder(root, colour_encoder, classes='iemocap',
                                           class_mapping='excited=happy,frustration=angry',
                                           progress=False)
    assert report.sources['excited'] == 'Excited' and 'excited' not in report.mapped


def test_duplicate_alias_folders_and_empty_roots(few_faces, tmp_path, colour_encoder):
    root = tmp_path / 'dup'
    shutil.copytree(few_faces, root)
    shutil.copytree(few_faces / 'happy', root / 'Joy')
    with pytest.raises(AnchorClassError, match="'Joy' and 'happy' both stand for class"):
        scan_class_folders(str(root))
    (tmp_path / 'flat').mkdir()
    with pytest.raises(AnchorClassError, match='no subfolders'):
        build_anchor_bank_from_folder(tmp_path / 'flat', colour_encoder)
    with pytest.raises(FileNotFoundError, match='nowhere'):
        build_anchor_bank_from_folder(tmp_path / 'nowhere', colour_encoder)


def test_bad_files_are_skipped_and_reported(messy_faces, colour_encoder):
    # 'angry' holds only a text file: an error naming it
    with pytest.raises(AnchorClassError) as err:
        build_anchor_bank_from_folder(messy_faces, colour_encoder, progress=False)
    assert "'angry': folder 'angry' has no readable image (1 files skipped)" in str(err.value)

    report = build_anchor_bank_from_folder(messy_faces, colour_encoder,
                                           classes=['happy', 'sad'], progress=False)
    skipped = dict(report.skipped)
    assert set(skipped) == {'happy/truncated.jpg', 'happy/garbage.jpg', 'happy/notes.txt'}
    assert 'corrupt' in skipped['happy/truncated.jpg']
    assert 'not an image' in skipped['happy/notes.txt']
    assert len(report.images['happy']) == 2
    assert report.images['sad'][-4:] == ['sad/deep.png', 'sad/gray.png',
                                         'sad/nested/palette.png', 'sad/rgba.png']
    assert report.unused_folders == ['angry']
    assert [p for p, _ in report.meta['skipped']] == [p for p, _ in report.skipped]
    assert 'happy/notes.txt' in report.to_table()


def test_image_modes_become_rgb(messy_faces):
    for rel in ('gray.png', 'rgba.png', 'deep.png', 'nested/palette.png'):
        img = load_rgb_image(str(messy_faces / 'sad' / rel))
        assert img.mode == 'RGB' and img.size == (64, 64)
    deep = np.asarray(load_rgb_image(str(messy_faces / 'sad' / 'deep.png')))
    assert deep.min() == 0 and deep.max() == 255          # 16 bits rescaled, not clipped
    # transparent pixels are composited on white
    path = messy_faces / 'clear.png'
    Image.new('RGBA', (4, 4), (255, 0, 0, 0)).save(path)
    assert np.asarray(load_rgb_image(str(path)))[0, 0].tolist() == [255, 255, 255]
    gray = load_rgb_image(str(next((messy_faces / 'happy').glob('*[0-9].jpg'))))
    r, g, b = gray.split()
    assert r.tobytes() == g.tobytes() == b.tobytes()


def test_face_detection_counts_images_without_face(few_faces, tmp_path, colour_encoder):
    pytest.importorskip('cv2')
    root = tmp_path / 'faces'
    shutil.copytree(few_faces, root)
    noise = np.random.default_rng(0).integers(0, 255, (224, 224, 3), dtype=np.uint8)
    Image.fromarray(noise).save(root / 'happy' / 'zz_noise.png')
    report = build_anchor_bank_from_folder(
        root, colour_encoder, face_detector=dict(type='HaarCascadeFaceDetector'),
        progress=False)
    assert 'happy/zz_noise.png' in report.faces_not_found
    assert report.n_images == 15 and len(report.images['happy']) == 3
    assert report.meta['face_detector']['type'] == 'HaarCascadeFaceDetector'
    assert report.meta['faces_not_found'] == report.faces_not_found
    assert f'faces not found (whole image used): {len(report.faces_not_found)} of 15' \
        in report.to_table()
