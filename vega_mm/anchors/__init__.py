"""Visual emotion anchors: face detection, building and anchor files (the image encoders
are :mod:`vega_mm.encoders`).

Build anchors from a folder of face images (one subfolder per emotion)::

    from vega_mm.anchors import build_anchor_bank_from_folder
    report = build_anchor_bank_from_folder(
        'faces/', dict(type='OpenCLIPImageEncoder', model_name='ViT-B-32',
                       pretrained='vit_b32_openai.safetensors'),
        classes='iemocap', class_mapping={'excited': 'happy', 'frustration': 'angry'})
    report.save('anchors/iemocap_vitb32.pt')
    print(report.to_table())

or from generic options and a config file (what ``tools/build_anchors.py`` does)::

    kwargs = anchor_build_config('my_anchor_cfg.py', encoder='hf_clip', weights='clip/')
    report = build_anchor_bank_from_folder('faces/', **kwargs)
"""
from .builder import (AnchorBuildReport, AnchorClassError, build_anchor_bank_from_folder,
                      scan_class_folders)
from .classes import (DATASET_CLASSES, EMOTION_ALIASES, IEMOCAP_DEFAULT_MAPPING,
                      canonical_emotion, check_distinct_classes, parse_class_list,
                      parse_class_mapping, resolve_class_order)
from .config import (ANCHOR_CONFIG_KEYS, DEFAULT_ENCODER, DEFAULT_FACE_DETECTOR,
                     anchor_build_config, image_encoder_config)
from .faces import FaceDetector, HaarCascadeFaceDetector, build_face_detector
from .images import load_rgb_image, probe_image
from .io import (ANCHOR_FILE_FORMAT, CENTER_TOLERANCE, exemplar_means, load_anchor_file,
                 read_anchors, save_anchor_file)

__all__ = [
    'AnchorBuildReport', 'AnchorClassError', 'build_anchor_bank_from_folder',
    'load_rgb_image', 'probe_image', 'scan_class_folders', 'DATASET_CLASSES', 'EMOTION_ALIASES',
    'IEMOCAP_DEFAULT_MAPPING', 'canonical_emotion', 'parse_class_list',
    'parse_class_mapping', 'resolve_class_order', 'FaceDetector', 'HaarCascadeFaceDetector',
    'build_face_detector', 'ANCHOR_FILE_FORMAT', 'CENTER_TOLERANCE', 'exemplar_means',
    'load_anchor_file', 'save_anchor_file', 'check_distinct_classes',
    'read_anchors', 'ANCHOR_CONFIG_KEYS', 'DEFAULT_ENCODER', 'DEFAULT_FACE_DETECTOR',
    'anchor_build_config', 'image_encoder_config'
]
